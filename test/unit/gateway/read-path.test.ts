import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/platform/config.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildGatewayApp } from '../../../src/gateway/app.js';
import { gatewayConfigSchema } from '../../../src/gateway/config.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { testClusterSecret } from '../../support/credentials.js';

// The read path through the whole gateway app with stand-in services counting their calls:
// GET /{imgID} answers the original contract's JSON from memory, a revalidation is answered
// 304 from the entity tag alone, and views reach the recommendations service in one batch.

const imageId = 'AAAAAAAAAAAAAAAAAAAAAA';
const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const info = { imageId, author: 'mario', authorId: 'user-1', title: 't', description: 'd', tags: ['a'], type: 'image/png', width: 1, height: 1, size: 16, sha256: 'x', created: '2030-01-01T00:00:00.000Z' };

async function gateway() {
  const calls: Record<string, number> = {};
  const batches: unknown[] = [];
  const count = (name: string) => void (calls[name] = (calls[name] ?? 0) + 1);
  const app = await buildGatewayApp({
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'gw', GATEWAY_WORKERS: '1', VIEW_FLUSH_INTERVAL_MS: '600000' }),
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: createMetricsRegistry('test', { defaults: false }),
    sharedState: inMemorySharedState(),
    users: { SigningKeys: async () => ({ keys: [] }) } as unknown as GatewayDeps['users'],
    images: {
      Get: async () => (count('Get'), { ...info, contentType: 'image/png', etag: '"e"', image: png }),
      GetVariant: async () => (count('GetVariant'), { contentType: 'image/png', etag: '"e-original"', image: png }),
    } as unknown as GatewayDeps['images'],
    recommendations: {
      RecordViews: async (input: { views: unknown[] }) => (count('RecordViews'), batches.push(input.views), {}),
    } as unknown as GatewayDeps['recommendations'],
  });
  return { app, calls, batches };
}

describe('the read path', () => {
  it('answers GET /{imgID} with the original contract\'s JSON, asking the images service once', async () => {
    const { app, calls } = await gateway();
    for (let i = 0; i < 3; i++) {
      const response = await app.inject({ method: 'GET', url: `/${imageId}` });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({ imageBlob: png.toString('base64'), author: 'mario', title: 't', description: 'd', error: '' });
    }
    expect(calls.Get).toBe(1);
    await app.close();
  });

  it('answers a revalidation of the bytes with 304 from the entity tag, without the bytes', async () => {
    const { app, calls } = await gateway();
    const first = await app.inject({ method: 'GET', url: `/${imageId}/raw` });
    expect(first.statusCode).toBe(200);
    expect(first.rawPayload.equals(png)).toBe(true);
    expect(first.headers.etag).toBe('"e-original"');
    const again = await app.inject({ method: 'GET', url: `/${imageId}/raw`, headers: { 'if-none-match': 'W/"e-original", "other"' } });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    expect(again.headers.etag).toBe('"e-original"');
    const stale = await app.inject({ method: 'GET', url: `/${imageId}/raw`, headers: { 'if-none-match': '"older"' } });
    expect(stale.statusCode).toBe(200);
    expect(calls.GetVariant).toBe(1);
    await app.close();
  });

  it('sends the views of many GETs as one batch when the app closes', async () => {
    const { app, calls, batches } = await gateway();
    for (let i = 0; i < 10; i++) await app.inject({ method: 'GET', url: `/${imageId}` });
    expect(calls.RecordViews).toBeUndefined();
    await app.close();
    expect(calls.RecordViews).toBe(1);
    expect(batches).toEqual([[{ imageId, userId: undefined, count: 10 }]]);
  });
});
