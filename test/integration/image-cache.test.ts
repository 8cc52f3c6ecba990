import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { startRedisRing, type RedisRingHandle } from '../harness/redis.js';
import { makeImage } from '../fixtures/images.js';
import { createCacheRing, parseCacheNodes, type CacheRing } from '../../src/platform/cache/index.js';
import { createLogger } from '../../src/platform/log.js';

// Image requests served from the real cache ring through the gateway: hits, invalidation on
// PATCH and DELETE on every replica, and every request still answered with half the ring dead.

let redis: RedisRingHandle;
let ring: CacheRing;
let stack: Stack;
let client: ApiClient;
let viewer: Account;
let imageId: string;
let original: Buffer;
const hits: string[] = [];

beforeAll(async () => {
  redis = await startRedisRing(4, 'cache');
  ring = createCacheRing({ nodes: parseCacheNodes(redis.spec), logger: createLogger({ name: 'ring', level: 'silent' }), commandTimeoutMs: 250 });
  ring.on('hit', ({ key }) => hits.push(key));
  await ring.ready();
  // This file's own ring (its nodes are killed and frozen below), unprefixed so the test can
  // find the gateway's keys.
  stack = await startStack({ sharedState: ring });
  client = apiClient(stack.gatewayUrl);
  viewer = await client.newAccount('cached');
  original = await makeImage('png', 400, 300);
  const upload = await client.upload(viewer.accessToken, original, { title: 'first title', tags: ['ink'] });
  imageId = upload.body.imageID as string;
  expect(imageId).toBeTruthy();
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await ring?.close();
  await redis?.stop();
});

describe('image cache through the gateway', () => {
  it('keeps the answers in the ring and serves repeated GETs from memory, checking the generation each time', async () => {
    hits.length = 0;
    for (let i = 0; i < 3; i++) {
      const body = (await client.request('GET', `/${imageId}`, { token: viewer.accessToken })).body;
      expect(Buffer.from(body.imageBlob as string, 'base64').equals(original)).toBe(true);
    }
    await client.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    const raw = await client.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    expect(raw.bytes.equals(original)).toBe(true);
    // Every read asked the ring for the generation (that keeps other workers never-stale)...
    expect(hits.filter((key) => key === `img:${imageId}:gen`).length).toBeGreaterThanOrEqual(4);
    // ...and the answers are in the ring for the other workers, under that generation.
    const generation = (await ring.get(`img:${imageId}:gen`))!.toString();
    expect(JSON.parse((await ring.get(`img:${imageId}:${generation}:answer`))!.toString())).toMatchObject({ title: 'first title' });
    expect(await ring.get(`img:${imageId}:${generation}:original`)).not.toBeNull();
  });

  it('never serves a modified image stale, whichever replica answers', async () => {
    await client.request('GET', `/${imageId}/info`, { token: viewer.accessToken });
    await client.request('GET', `/${imageId}`, { token: viewer.accessToken });
    expect((await client.request('PATCH', `/${imageId}`, { token: viewer.accessToken, json: { title: 'second title' } })).body).toMatchObject({ message: 'success' });
    // Read with each replica of the generation key missing in turn: both must know the change.
    const holders = ring.replicasFor(`img:${imageId}:gen`);
    for (const holder of holders) {
      const node = redis.nodes.find((n) => n.name === holder)!;
      node.freeze();
      try {
        expect((await client.request('GET', `/${imageId}/info`, { token: viewer.accessToken })).body).toMatchObject({ title: 'second title' });
        expect((await client.request('GET', `/${imageId}`, { token: viewer.accessToken })).body).toMatchObject({ title: 'second title' });
      } finally {
        node.thaw();
      }
      // The thawed node comes back flushed (it may have missed changes): the next read must not
      // mistake its missing generation for "never changed" while the other replica is frozen.
      await expect.poll(() => ring.nodeStates().every((n) => n.state === 'up'), { timeout: 10_000, interval: 50 }).toBe(true);
    }
  });

  it('answers every request with two of the four Redis nodes dead, and uses them again when they return', async () => {
    const [a, b] = [redis.nodes[0]!, redis.nodes[2]!];
    await a.kill();
    await b.kill();
    const paths = [`/${imageId}`, `/${imageId}/info`, `/${imageId}/raw`, `/${imageId}/thumb`, '/tags'];
    const statuses: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (const path of paths) statuses.push((await client.request('GET', path, { token: viewer.accessToken })).status);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(ring.nodeStates().filter((n) => n.state === 'down').map((n) => n.name).sort()).toEqual([a.name, b.name].sort());
    await a.restart();
    await b.restart();
    await expect.poll(() => ring.nodeStates().every((n) => n.state === 'up'), { timeout: 15_000, interval: 200 }).toBe(true);
    expect((await client.request('GET', `/${imageId}/info`, { token: viewer.accessToken })).status).toBe(200);
  });

  it('never serves a deleted image from any replica', async () => {
    await client.request('GET', `/${imageId}`, { token: viewer.accessToken });
    await client.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    expect((await client.request('DELETE', `/${imageId}`, { token: viewer.accessToken })).body).toMatchObject({ message: 'success' });
    for (const path of [`/${imageId}`, `/${imageId}/info`, `/${imageId}/raw`]) {
      expect((await client.request('GET', path, { token: viewer.accessToken })).status).toBe(404);
    }
    for (const holder of ring.replicasFor(`img:${imageId}:gen`)) {
      const node = redis.nodes.find((n) => n.name === holder)!;
      node.freeze();
      try {
        expect((await client.request('GET', `/${imageId}`, { token: viewer.accessToken })).status).toBe(404);
      } finally {
        node.thaw();
      }
      // The thawed node comes back flushed (it may have missed changes): the next read must not
      // mistake its missing generation for "never changed" while the other replica is frozen.
      await expect.poll(() => ring.nodeStates().every((n) => n.state === 'up'), { timeout: 10_000, interval: 50 }).toBe(true);
    }
  });
});
