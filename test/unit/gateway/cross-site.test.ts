import type { FastifyInstance } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/platform/config.js';
import { createHttpServer } from '../../../src/platform/http.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { gatewayConfigSchema } from '../../../src/gateway/config.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { crossSiteCheck } from '../../../src/gateway/cross-site.js';
import { testClusterSecret } from '../../support/credentials.js';

// Writes a browser sends from another site with the visitor's cookies are refused; the app's
// own requests, programs with an Authorization header and reads pass.

let app: FastifyInstance;
let writes: number;

beforeEach(async () => {
  writes = 0;
  const config = loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, TRUSTED_ORIGINS: 'https://easel.example' });
  app = createHttpServer({ logger: createLogger({ name: 'test', level: 'silent' }), metrics: createMetricsRegistry('test', { defaults: false }) });
  crossSiteCheck(app, { config } as GatewayDeps);
  app.post('/AAAAAAAAAAAAAAAAAAAAAA/like', async () => ({ liked: true, count: ++writes }));
  app.get('/images', async () => ({ images: [] }));
});

const like = (headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: '/AAAAAAAAAAAAAAAAAAAAAA/like', headers: { host: 'localhost:8080', cookie: 'accessToken=t', ...headers } });

describe('cross-site writes', () => {
  it('refuses a write whose Origin is another site, in the documented error shape', async () => {
    for (const origin of ['https://evil.example', 'http://localhost:9999', 'null', 'http://sub.localhost:8080']) {
      const answer = await like({ origin });
      expect(answer.statusCode, origin).toBe(403);
      expect(answer.json()).toMatchObject({ message: 'failure', code: 'FORBIDDEN' });
      expect(answer.json().error).toMatch(/cross-site/);
    }
    expect(writes).toBe(0);
  });

  it('refuses a write marked cross-site by fetch metadata when no Origin came', async () => {
    expect((await like({ 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect((await like({ 'sec-fetch-site': 'same-site' })).statusCode).toBe(403);
    expect(writes).toBe(0);
  });

  it("lets the app's own writes, trusted origins and programs through", async () => {
    expect((await like({ origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
    expect((await like({ origin: 'https://easel.example' })).statusCode).toBe(200);
    expect((await like({})).statusCode).toBe(200);
    expect((await like({ origin: 'https://evil.example', authorization: 'Bearer abc' })).statusCode).toBe(200);
    expect(writes).toBe(4);
  });

  it('never blocks reads', async () => {
    const answer = await app.inject({ url: '/images', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(answer.statusCode).toBe(200);
  });
});
