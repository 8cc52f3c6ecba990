import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../../src/platform/http.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { createMetricsServer } from '../../../src/platform/metrics-server.js';
import { AppError } from '../../../src/platform/errors.js';

function server() {
  const app = createHttpServer({ logger: createLogger({ name: 'test', level: 'silent' }), metrics: createMetricsRegistry('test', { defaults: false }) });
  app.get('/forbidden', async () => {
    throw new AppError('FORBIDDEN', 'only the author may change this image');
  });
  app.get('/busy', async () => {
    throw new AppError('RATE_LIMITED', 'too many attempts', { retryAfterSeconds: 30 });
  });
  app.get('/down', async () => {
    throw new AppError('UNAVAILABLE', 'images unavailable');
  });
  app.get('/upload-down', { config: { failureShape: 'upload' } }, async () => {
    throw new AppError('DEADLINE_EXCEEDED', 'took too long');
  });
  app.get('/crash', async () => {
    throw new Error('connection to 10.0.0.7:5432 refused, password=hunter2');
  });
  return app;
}

describe('createHttpServer', () => {
  it('answers an AppError in the documented shape with the status of its code', async () => {
    const response = await server().inject({ url: '/forbidden' });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ message: 'failure', error: 'only the author may change this image', code: 'FORBIDDEN' });
  });

  it('adds Retry-After when the error carries one', async () => {
    const response = await server().inject({ url: '/busy' });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('30');
  });

  it('adds Retry-After to every 503, whether or not the error said how long', async () => {
    const app = server();
    for (const url of ['/down', '/upload-down']) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
    }
  });

  it('answers in the shape the route names', async () => {
    const response = await server().inject({ url: '/upload-down' });
    expect(response.json()).toEqual({ message: 'failure', imageID: '', error: 'took too long', code: 'DEADLINE_EXCEEDED' });
  });

  it('never leaks the internals of an unexpected error', async () => {
    const response = await server().inject({ url: '/crash' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/10\.0\.0\.7|hunter2/);
    expect(response.json()).toEqual({ message: 'failure', error: 'internal error', code: 'INTERNAL' });
  });

  it('answers malformed JSON with 400, not 500', async () => {
    const app = server();
    app.post('/echo', async (request) => request.body);
    const response = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ message: 'failure', code: 'INVALID_ARGUMENT' });
  });

  it('answers an unknown path with 404 in the same shape', async () => {
    const response = await server().inject({ url: '/nope/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ message: 'failure', code: 'NOT_FOUND' });
  });

  it('serves /health and a request id, and no /metrics (that is on the metrics port)', async () => {
    const registry = createMetricsRegistry('probe', { defaults: false });
    const app = createHttpServer({ logger: createLogger({ name: 'probe', level: 'silent' }), metrics: registry });
    const health = await app.inject({ url: '/health' });
    expect(health.json()).toEqual({ status: 'ok' });
    expect(health.headers['x-request-id']).toBeTruthy();
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
    const metrics = await createMetricsServer({ metrics: registry }).inject({ url: '/metrics' });
    expect(metrics.body).toContain('http_request_duration_seconds');
  });
});
