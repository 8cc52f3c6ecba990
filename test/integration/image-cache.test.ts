import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness/stack.js';
import { startRedisRing, type RedisRingHandle } from '../harness/redis.js';
import { makeImage } from '../fixtures/images.js';
import { createCacheRing, parseCacheNodes, type CacheRing } from '../../src/platform/cache/index.js';
import { createLogger } from '../../src/platform/log.js';

// Image requests served from the real cache ring through the gateway: hits, invalidation on
// PATCH and DELETE on every replica, and every request still answered with half the ring dead.

let redis: RedisRingHandle;
let ring: CacheRing;
let stack: Stack;
let token: string;
let imageId: string;
let original: Buffer;
const hits: string[] = [];

async function request(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.gatewayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, body: type.includes('json') ? ((await response.json()) as Record<string, unknown>) : Buffer.from(await response.arrayBuffer()) };
}

const json = async (method: string, path: string, body?: unknown) => (await request(method, path, body)).body as Record<string, unknown>;

beforeAll(async () => {
  redis = await startRedisRing(4, 'cache');
  ring = createCacheRing({ nodes: parseCacheNodes(redis.spec), logger: createLogger({ name: 'ring', level: 'silent' }), commandTimeoutMs: 250 });
  ring.on('hit', ({ key }) => hits.push(key));
  await ring.ready();
  stack = await startStack({ sharedState: ring });
  const name = `cached${process.pid}`;
  const password = 'a long enough password';
  expect((await fetch(`${stack.gatewayUrl}/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) })).status).toBe(201);
  const login = await fetch(`${stack.gatewayUrl}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  token = ((await login.json()) as { accessToken: string }).accessToken;
  original = await makeImage('png', 400, 300);
  const upload = await json('POST', '/img', { imageBlob: original.toString('base64'), title: 'first title', tags: ['ink'] });
  imageId = upload.imageID as string;
  expect(imageId).toBeTruthy();
});

afterAll(async () => {
  await stack?.stop();
  await ring?.close();
  await redis?.stop();
});

describe('image cache through the gateway', () => {
  it('serves repeated GETs of an image from the ring', async () => {
    hits.length = 0;
    for (let i = 0; i < 3; i++) {
      const body = await json('GET', `/${imageId}`);
      expect(Buffer.from(body.imageBlob as string, 'base64').equals(original)).toBe(true);
    }
    await request('GET', `/${imageId}/raw`);
    const raw = await request('GET', `/${imageId}/raw`);
    expect((raw.body as Buffer).equals(original)).toBe(true);
    expect(hits.some((key) => key.endsWith(':get'))).toBe(true);
    expect(hits.some((key) => key.endsWith(':original'))).toBe(true);
  });

  it('never serves a modified image stale, whichever replica answers', async () => {
    await json('GET', `/${imageId}/info`);
    await json('GET', `/${imageId}`);
    expect(await json('PATCH', `/${imageId}`, { title: 'second title' })).toMatchObject({ message: 'success' });
    // Read with each replica of the generation key missing in turn: both must know the change.
    const holders = ring.replicasFor(`img:${imageId}:gen`);
    for (const holder of holders) {
      const node = redis.nodes.find((n) => n.name === holder)!;
      node.freeze();
      try {
        expect(await json('GET', `/${imageId}/info`)).toMatchObject({ title: 'second title' });
        expect(await json('GET', `/${imageId}`)).toMatchObject({ title: 'second title' });
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
      for (const path of paths) statuses.push((await request('GET', path)).status);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(ring.nodeStates().filter((n) => n.state === 'down').map((n) => n.name).sort()).toEqual([a.name, b.name].sort());
    await a.restart();
    await b.restart();
    await expect.poll(() => ring.nodeStates().every((n) => n.state === 'up'), { timeout: 15_000, interval: 200 }).toBe(true);
    expect((await request('GET', `/${imageId}/info`)).status).toBe(200);
  });

  it('never serves a deleted image from any replica', async () => {
    await json('GET', `/${imageId}`);
    await json('GET', `/${imageId}/raw`);
    expect(await json('DELETE', `/${imageId}`)).toMatchObject({ message: 'success' });
    for (const path of [`/${imageId}`, `/${imageId}/info`, `/${imageId}/raw`]) {
      expect((await request('GET', path)).status).toBe(404);
    }
    for (const holder of ring.replicasFor(`img:${imageId}:gen`)) {
      const node = redis.nodes.find((n) => n.name === holder)!;
      node.freeze();
      try {
        expect((await request('GET', `/${imageId}`)).status).toBe(404);
      } finally {
        node.thaw();
      }
      // The thawed node comes back flushed (it may have missed changes): the next read must not
      // mistake its missing generation for "never changed" while the other replica is frozen.
      await expect.poll(() => ring.nodeStates().every((n) => n.state === 'up'), { timeout: 10_000, interval: 50 }).toBe(true);
    }
  });
});
