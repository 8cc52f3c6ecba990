import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { startRedisRing, type RedisRingHandle } from '../harness/redis.js';
import { makeImage } from '../fixtures/images.js';
import { createCacheRing, parseCacheNodes, type CacheRing } from '../../src/platform/cache/index.js';
import { createLogger } from '../../src/platform/log.js';

// Image requests served from the real cache ring through the gateway: hits, invalidation on
// PATCH and DELETE on every replica and in a second gateway holding a generation lease (as another
// worker would), and every request still answered with half the ring dead.

let redis: RedisRingHandle;
let ring: CacheRing;
let stack: Stack;
let client: ApiClient;
/** Through the second gateway: its own hot tier and its own leases on generations. */
let otherWorker: ApiClient;
let viewer: Account;
let imageId: string;
let original: Buffer;
const hits: string[] = [];
/** Keys asked of a node that did not hold them; with `hits`, every lookup. */
const lookups: string[] = [];
const leaseMs = 500;
/** Waits until the gateways hold no lease on a generation, so their next reads ask the ring. */
const leaseRunOut = () => new Promise((resolve) => setTimeout(resolve, leaseMs + 10));

beforeAll(async () => {
  redis = await startRedisRing(4, 'cache');
  ring = createCacheRing({ nodes: parseCacheNodes(redis.spec), logger: createLogger({ name: 'ring', level: 'silent' }), commandTimeoutMs: 250 });
  ring.on('hit', ({ key }) => hits.push(key));
  ring.on('miss', ({ key }) => lookups.push(key));
  await ring.ready();
  // This file's own ring (its nodes are killed and frozen below), unprefixed so the test can
  // find the gateway's keys.
  // A lease long enough that a change answering before it ran out would be caught every time.
  stack = await startStack({ sharedState: ring, gateways: 2, env: { gateway: { IMAGE_GENERATION_LEASE_MS: String(leaseMs) } } });
  client = apiClient(stack.gatewayUrl);
  otherWorker = apiClient(stack.gateways[1]!.url);
  viewer = await client.newAccount('cached');
  original = await makeImage('png', 400, 300);
  const upload = await client.upload(viewer.accessToken, original, { title: 'first title', tags: ['ink'] });
  imageId = upload.body.imageID as string;
  expect(imageId).toBeTruthy();
});

afterAll(async () => {
  await client?.close();
  await otherWorker?.close();
  await stack?.stop();
  await ring?.close();
  await redis?.stop();
});

describe('image cache through the gateway', () => {
  it('keeps the answers in the ring and serves repeated GETs from memory, reading the generation once per lease', async () => {
    hits.length = 0;
    lookups.length = 0;
    for (let i = 0; i < 3; i++) {
      const body = (await client.request('GET', `/${imageId}`, { token: viewer.accessToken })).body;
      expect(Buffer.from(body.imageBlob as string, 'base64').equals(original)).toBe(true);
    }
    await client.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    const raw = await client.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    expect(raw.bytes.equals(original)).toBe(true);
    // The generation was read from the ring, but not for every request (the lease)...
    const generationReads = [...hits, ...lookups].filter((key) => key === `img:${imageId}:gen`).length;
    expect(generationReads).toBeGreaterThanOrEqual(1);
    expect(generationReads).toBeLessThan(5);
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
      await leaseRunOut();
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

  it('never answers the old version from a gateway that read the image just before a change made through another', async () => {
    for (let round = 1; round <= 4; round++) {
      // The other gateway reads the image: it now holds its generation (and answers) for a lease.
      expect((await otherWorker.request('GET', `/${imageId}/info`, { token: viewer.accessToken })).status).toBe(200);
      expect((await otherWorker.request('GET', `/${imageId}`, { token: viewer.accessToken })).status).toBe(200);
      const started = performance.now();
      expect((await client.request('PATCH', `/${imageId}`, { token: viewer.accessToken, json: { title: `title ${round}` } })).body).toMatchObject({ message: 'success' });
      // The change answered only once the other gateway's lease had run out.
      expect(performance.now() - started).toBeGreaterThanOrEqual(leaseMs);
      expect((await otherWorker.request('GET', `/${imageId}/info`, { token: viewer.accessToken })).body).toMatchObject({ title: `title ${round}` });
      expect((await otherWorker.request('GET', `/${imageId}`, { token: viewer.accessToken })).body).toMatchObject({ title: `title ${round}` });
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
    await otherWorker.request('GET', `/${imageId}/raw`, { token: viewer.accessToken });
    expect((await client.request('DELETE', `/${imageId}`, { token: viewer.accessToken })).body).toMatchObject({ message: 'success' });
    for (const path of [`/${imageId}`, `/${imageId}/info`, `/${imageId}/raw`]) {
      expect((await client.request('GET', path, { token: viewer.accessToken })).status).toBe(404);
      expect((await otherWorker.request('GET', path, { token: viewer.accessToken })).status).toBe(404);
    }
    for (const holder of ring.replicasFor(`img:${imageId}:gen`)) {
      const node = redis.nodes.find((n) => n.name === holder)!;
      await leaseRunOut();
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
