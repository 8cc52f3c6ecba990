import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildDiscoveryApp } from '../../../src/discovery/app.js';
import { manualClock } from '../../fakes/manual-clock.js';
import { discoveryAudience, newNonce, serviceAuthHeaders } from '../../../src/platform/service-auth.js';
import type { ManualClock } from '../../fakes/manual-clock.js';
import { testClusterSecret, testCredentials } from '../../support/credentials.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function build() {
  const clock = manualClock();
  const { app, registry, metricsApp } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-test', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'], DISCOVERY_PEERS: ['127.0.0.1:8501'] },
    logger: createLogger({ name: 'discovery-test', level: 'silent' }),
    metrics: createMetricsRegistry('discovery-test', { defaults: false }),
    clock,
  });
  apps.push(app);
  return { app, registry, clock, metricsApp, as: (service = 'USER SERVICE') => asService(service, clock) };
}

/** The headers of a request made by an instance of `service` (a token from the cluster secret). */
function asService(service: string, clock: ManualClock, secret = testClusterSecret) {
  return { [serviceAuthHeaders.service]: testCredentials(service, undefined, secret, clock).tokenFor(discoveryAudience) };
}

describe('discovery HTTP API', () => {
  it('takes serviceName from a JSON body on GET /service, as the original client sends it', async () => {
    const { app, as } = build();
    await app.inject({ method: 'POST', url: '/service', headers: as(), payload: { serviceName: 'USER SERVICE', host: 'localhost:3799' } });
    const response = await app.inject({ method: 'GET', url: '/service', headers: { ...as(), 'content-type': 'application/json' }, payload: JSON.stringify({ serviceName: 'USER SERVICE' }) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ host: 'localhost:3799', connTicket: expect.any(String) });
  });

  it('accepts a body without a content type', async () => {
    const { app, as } = build();
    const response = await app.inject({ method: 'POST', url: '/service', headers: as(), payload: '{"serviceName":"USER SERVICE","host":"localhost:3799"}' });
    expect(response.json()).toEqual({ message: 'success', error: '' });
  });

  it('answers bad input with 400 in the original failure shape', async () => {
    const { app, as } = build();
    const response = await app.inject({ method: 'POST', url: '/service', headers: as(), payload: { serviceName: 'USER SERVICE', host: 'no port' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'failure', error: expect.stringContaining('host'), code: 'INVALID_ARGUMENT' });
    const missing = await app.inject({ method: 'GET', url: '/service', headers: as() });
    expect(missing.statusCode).toBe(400);
  });

  it('answers an unknown heartbeat with 404 and a known one with success', async () => {
    const { app, clock, as } = build();
    const beat = () => app.inject({ method: 'PUT', url: '/service/heartbeat', headers: as('IMAGE SERVICE'), payload: { serviceName: 'IMAGE SERVICE', host: '127.0.0.1:4000' } });
    expect((await beat()).statusCode).toBe(404);
    await app.inject({ method: 'POST', url: '/service', headers: as('IMAGE SERVICE'), payload: { serviceName: 'IMAGE SERVICE', host: '127.0.0.1:4000' } });
    clock.advance(4_000);
    expect((await beat()).json()).toEqual({ message: 'success', error: '' });
    clock.advance(4_000);
    const services = (await app.inject({ method: 'GET', url: '/services', headers: as() })).json();
    expect(services.services['IMAGE SERVICE']).toHaveLength(1);
    clock.advance(1_000);
    expect((await app.inject({ method: 'GET', url: '/services', headers: as() })).json().services).toEqual({});
  });

  it('lists every instance and the discovery replicas as Prometheus http_sd targets', async () => {
    const { app, metricsApp, as } = build();
    await app.inject({ method: 'POST', url: '/service', headers: as(), payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711', metricsPort: 4712 } });
    const targets = (await metricsApp.inject({ method: 'GET', url: '/prometheus/targets' })).json();
    expect(targets).toContainEqual({ targets: ['127.0.0.1:4712'], labels: { service: 'USER SERVICE', instance: '127.0.0.1:4711' } });
    expect(targets).toContainEqual({ targets: ['127.0.0.1:8501'], labels: { service: 'DISCOVERY SERVICE', instance: '127.0.0.1:8501' } });
  });

  it('exports the registry size as a metric', async () => {
    const { app, metricsApp, as } = build();
    await app.inject({ method: 'POST', url: '/service', headers: as(), payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711' } });
    const text = (await metricsApp.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/discovery_registered_instances\{service="USER SERVICE"[^}]*\} 1/);
  });

  it('serves neither /metrics nor the Prometheus targets on its API port', async () => {
    const { app, as } = build();
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: as() })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/prometheus/targets', headers: as() })).statusCode).toBe(404);
  });
});

describe('discovery authenticates both ways', () => {
  const register = (app: Awaited<ReturnType<typeof build>>['app'], headers: Record<string, string>, serviceName = 'USER SERVICE', host = '127.0.0.1:4711') =>
    app.inject({ method: 'POST', url: '/service', headers, payload: { serviceName, host } });

  it('refuses every endpoint but /health without a service token of this cluster', async () => {
    const { app, clock } = build();
    for (const [method, url] of [['POST', '/service'], ['DELETE', '/service'], ['PUT', '/service/heartbeat'], ['POST', '/heartbeat'], ['POST', '/service/report'], ['GET', '/service?serviceName=USER%20SERVICE'], ['GET', '/services'], ['POST', '/ticket']] as const) {
      const anonymous = await app.inject({ method, url, payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711' } });
      expect(anonymous.statusCode, `${method} ${url}`).toBe(401);
      const wrongSecret = await app.inject({ method, url, headers: asService('USER SERVICE', clock, 'another-cluster-secret-0123456789'), payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711' } });
      expect(wrongSecret.statusCode, `${method} ${url}`).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('refuses an expired token and one meant for another service', async () => {
    const { app, clock } = build();
    const headers = asService('USER SERVICE', clock);
    clock.advance(400_000);
    expect((await register(app, headers)).statusCode).toBe(401);
    const forUsers = { [serviceAuthHeaders.service]: testCredentials('IMAGE SERVICE', undefined, testClusterSecret, clock).tokenFor('USER SERVICE') };
    expect((await register(app, forUsers, 'IMAGE SERVICE')).statusCode).toBe(401);
  });

  it('lets an instance register only under its own service name, from the allow-list, at an allowed host', async () => {
    const { app, as } = build();
    expect((await register(app, as('IMAGE SERVICE'), 'USER SERVICE')).statusCode).toBe(403);
    expect((await register(app, as('ROGUE SERVICE'), 'ROGUE SERVICE')).statusCode).toBe(403);
    expect((await register(app, as(), 'USER SERVICE', '10.1.2.3:4711')).statusCode).toBe(403);
    expect((await register(app, as(), 'USER SERVICE', 'localhost:99999')).statusCode).toBe(400);
    expect((await register(app, as(), 'USER SERVICE', '127.0.0.1:4711')).statusCode).toBe(200);
    const services = (await app.inject({ method: 'GET', url: '/services', headers: as() })).json();
    expect(Object.keys(services.services)).toEqual(['USER SERVICE']);
  });

  it('signs every answer over the nonce the asker sent', async () => {
    const { app, as, clock } = build();
    const nonce = newNonce();
    const response = await app.inject({ method: 'GET', url: '/services', headers: { ...as(), [serviceAuthHeaders.nonce]: nonce } });
    const credentials = testCredentials('USER SERVICE', undefined, testClusterSecret, clock);
    expect(credentials.verifyAnswer(nonce, response.body, response.headers[serviceAuthHeaders.answerMac] as string)).toBe(true);
    expect(credentials.verifyAnswer(newNonce(), response.body, response.headers[serviceAuthHeaders.answerMac] as string)).toBe(false);
    const refused = await app.inject({ method: 'GET', url: '/services', headers: { [serviceAuthHeaders.nonce]: nonce } });
    expect(credentials.verifyAnswer(nonce, refused.body, refused.headers[serviceAuthHeaders.answerMac] as string)).toBe(true);
  });

  it('labels metrics only with allowed names: a huge name leaves /metrics small', async () => {
    const { app, metricsApp, as } = build();
    const huge = 'X'.repeat(1024 * 1024);
    for (let i = 0; i < 3; i++) {
      await app.inject({ method: 'GET', url: `/service?serviceName=${huge.slice(0, 60_000)}${i}`, headers: as() });
      await app.inject({ method: 'POST', url: '/service', headers: as(), payload: { serviceName: huge, host: '127.0.0.1:4711' } });
    }
    const text = (await metricsApp.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).not.toContain('XXXX');
    // Bounded by the allow-list and the routes, whatever callers send (was 1.8 MB after one such name).
    expect(text.length).toBeLessThan(20_000);
    expect(text).toMatch(/discovery_lookups_total\{service="other",outcome="failure"[^}]*\} 3/);
  });
});
