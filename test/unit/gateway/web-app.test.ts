import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/platform/config.js';
import { createHttpServer } from '../../../src/platform/http.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { gatewayConfigSchema } from '../../../src/gateway/config.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { webAppContentSecurityPolicy, webAppRoutes } from '../../../src/gateway/web-app.js';
import { testClusterSecret } from '../../support/credentials.js';

// The gateway serving a built web app from a directory laid out as Vite builds it.

let dir: string;

async function gatewayServing(root: string): Promise<FastifyInstance> {
  const deps = {
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, WEB_APP_DIR: root }),
    logger: createLogger({ name: 'test', level: 'silent' }),
  } as GatewayDeps;
  const app = createHttpServer({ logger: deps.logger, metrics: createMetricsRegistry('test', { defaults: false }) });
  await app.register(webAppRoutes, { deps });
  app.get('/:imgID', async () => ({ image: true }));
  return app;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'easel-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Easel</title><script type="module" src="/app/assets/index-AbC123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-AbC123.js'), 'console.log("app")');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the web app under /app/', () => {
  it('serves index.html revalidated on every load, with a strict Content-Security-Policy', async () => {
    const app = await gatewayServing(dir);
    const page = await app.inject({ url: '/app/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(webAppContentSecurityPolicy);
    expect(String(page.headers['content-security-policy'])).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.body).toContain('<title>Easel</title>');
  });

  it('answers every page path of the app with index.html (client-side routes)', async () => {
    const app = await gatewayServing(dir);
    for (const url of ['/app/images/AAAAAAAAAAAAAAAAAAAAAA', '/app/tags/watercolor', '/app/upload']) {
      const page = await app.inject({ url });
      expect(page.statusCode, url).toBe(200);
      expect(page.body).toContain('<title>Easel</title>');
    }
  });

  it('caches hashed assets for a year and revalidates unhashed files', async () => {
    const app = await gatewayServing(dir);
    const script = await app.inject({ url: '/app/assets/index-AbC123.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(script.headers['content-type']).toMatch(/javascript/);
    const icon = await app.inject({ url: '/app/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
    const again = await app.inject({ url: '/app/assets/index-AbC123.js', headers: { 'if-none-match': String(script.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('answers a missing asset 404 in the documented shape, never with the page', async () => {
    const app = await gatewayServing(dir);
    const missing = await app.inject({ url: '/app/assets/gone-123.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ message: 'failure', code: 'NOT_FOUND' });
    const traversal = await app.inject({ url: '/app/assets/..%2F..%2Fpackage.json' });
    expect(traversal.statusCode).toBeGreaterThanOrEqual(400);
    expect(traversal.body).not.toContain('"name"');
  });

  it('sends a browser asking for / to /app/, and API clients get JSON', async () => {
    const app = await gatewayServing(dir);
    const browser = await app.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe('/app/');
    const api = await app.inject({ url: '/', headers: { accept: 'application/json' } });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ message: 'failure', code: 'NOT_FOUND' });
    const bare = await app.inject({ url: '/app' });
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe('/app/');
  });

  it('leaves image ids to the image routes', async () => {
    const app = await gatewayServing(dir);
    expect((await app.inject({ url: '/AAAAAAAAAAAAAAAAAAAAAA' })).json()).toEqual({ image: true });
  });

  it('says how to build the app when it is not built', async () => {
    const app = await gatewayServing(join(dir, 'nowhere'));
    const page = await app.inject({ url: '/app/' });
    expect(page.statusCode).toBe(503);
    expect(page.json().error).toMatch(/npm run build/);
  });
});
