import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisRing, type RedisNodeHandle, type RedisRingHandle } from '../../../harness/redis.js';
import { waitFor } from '../../../../src/platform/wait.js';
import { createLogger } from '../../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { createCacheRing, NEVER_EVICTED_INDEX, type CacheRing, type CacheRingEvents } from '../../../../src/platform/cache/cache-ring.js';
import { registerCacheMetrics } from '../../../../src/platform/cache/cache-metrics.js';
import { parseCacheNodes } from '../../../../src/platform/cache/node-spec.js';

// Real redis-server processes of our own (this file kills and freezes them, so it does not use
// the shared ring of the integration setup).

const COMMAND_TIMEOUT_MS = 250;
const logger = createLogger({ name: 'cache-ring-test', level: 'silent' });

let servers: RedisRingHandle;
let ring: CacheRing;
const events: { [E in keyof CacheRingEvents]: CacheRingEvents[E][] } = { hit: [], miss: [], error: [], stateChange: [], repair: [] };

function newRing(options: { probeInitialMs?: number } = {}): CacheRing {
  return createCacheRing({
    nodes: parseCacheNodes(servers.spec),
    logger,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    probeBackoff: { initialMs: options.probeInitialMs ?? 100, maxMs: 400 },
  });
}

function server(name: string): RedisNodeHandle {
  return servers.nodes.find((n) => n.name === name)!;
}

/** Runs commands on a node through a connection of its own, bypassing the ring. */
async function direct<T>(name: string, work: (client: Redis) => Promise<T>): Promise<T> {
  const { host, port } = server(name);
  const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    client.disconnect();
  }
}

async function allUp(target: CacheRing = ring): Promise<void> {
  await waitFor('every cache node up', async () => target.nodeStates().every((n) => n.state === 'up'), { timeoutMs: 10_000, intervalMs: 20 });
}

function keysWithPrimary(node: string, count: number, prefix: string): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (ring.replicasFor(`${prefix}:${i}`)[0] === node) keys.push(`${prefix}:${i}`);
  return keys;
}

beforeAll(async () => {
  servers = await startRedisRing(4, 'cache');
  ring = newRing();
  ring.on('hit', (event) => void events.hit.push(event));
  ring.on('miss', (event) => void events.miss.push(event));
  ring.on('error', (event) => void events.error.push(event));
  ring.on('stateChange', (event) => void events.stateChange.push(event));
  ring.on('repair', (event) => void events.repair.push(event));
  await ring.ready();
});

afterEach(async () => {
  // Leave every server running and the ring using all of them for the next test.
  for (const node of servers.nodes) node.thaw();
  await Promise.all(
    servers.nodes.map(async (node) => {
      const alive = await direct(node.name, (c) => c.ping()).then(() => true, () => false);
      if (!alive) await node.restart();
    }),
  );
  await allUp();
  for (const list of Object.values(events)) list.length = 0;
});

afterAll(async () => {
  await ring?.close();
  await servers?.stop();
});

describe('cache ring on four real Redis nodes', () => {
  it('writes each key to its two replicas only, and reads it back from the primary', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `placement:${i}`);
    const written = await Promise.all(keys.map((key) => ring.set(key, `value of ${key}`, 60)));
    expect(written.every((count) => count === 2)).toBe(true);

    const holders = new Map<string, string[]>(keys.map((key) => [key, []]));
    for (const node of servers.nodes) {
      const values = await direct(node.name, (c) => c.mget(...keys));
      values.forEach((value, i) => {
        if (value !== null) holders.get(keys[i]!)!.push(node.name);
      });
    }
    for (const key of keys) expect(holders.get(key)!.sort()).toEqual([...ring.replicasFor(key)].sort());

    for (const key of keys) expect((await ring.get(key))?.toString()).toBe(`value of ${key}`);
    expect(events.hit.map((e) => e.node)).toEqual(keys.map((key) => ring.replicasFor(key)[0]));
    expect(events.miss).toEqual([]);
    const ttl = await direct(ring.replicasFor(keys[0]!)[0]!, (c) => c.ttl(keys[0]!));
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('falls back to the second replica on a miss and repairs the first with the remaining TTL', async () => {
    const key = 'repair:1';
    await ring.set(key, Buffer.from([0, 1, 2, 255]), 120);
    const [primary, secondary] = ring.replicasFor(key) as [string, string];
    await direct(primary, (c) => c.del(key));

    expect(await ring.get(key)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(events.miss).toEqual([{ node: primary, key }]);
    expect(events.hit).toEqual([{ node: secondary, key }]);
    const repaired = await waitFor('repair of the primary', () => direct(primary, (c) => c.getBuffer(key)).then((v) => v ?? undefined), { timeoutMs: 5_000, intervalMs: 20 });
    expect(repaired).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await direct(primary, (c) => c.ttl(key))).toBeGreaterThan(100);
    expect(events.repair).toEqual([{ node: primary, key }]);
  });

  it('keeps every call succeeding with two of four nodes killed, keeps hitting keys with a live replica, and uses the nodes again when they return', async () => {
    const keys = Array.from({ length: 400 }, (_, i) => `outage:${i}`);
    await Promise.all(keys.map((key) => ring.set(key, `v:${key}`, 300)));
    const dead = ['cache-1', 'cache-2'];
    await Promise.all(dead.map((name) => server(name).kill()));

    const started = Date.now();
    const failures: unknown[] = [];
    const guard = <T>(work: Promise<T>) => work.catch((error: unknown) => void failures.push(error));
    const results = await Promise.all(keys.map((key) => guard(ring.get(key))));
    const live = (key: string) => ring.replicasFor(key).some((n) => !dead.includes(n));
    const withLiveReplica = keys.filter(live);
    expect(withLiveReplica.length).toBeGreaterThan(keys.length / 2);
    keys.forEach((key, i) => {
      if (live(key)) expect((results[i] as Buffer | null)?.toString(), key).toBe(`v:${key}`);
      else expect(results[i], key).toBeNull();
    });

    const writes = await Promise.all(keys.map((key) => guard(ring.set(`${key}:new`, 'x', 300))));
    await Promise.all(keys.slice(0, 100).map((key) => guard(ring.delete(key))));
    await Promise.all(keys.slice(0, 100).map((key) => guard(ring.incrementWithin(`${key}:count`, 60))));
    expect(failures).toEqual([]);
    expect(writes.filter((count) => count === 0).length).toBe(keys.filter((key) => !live(`${key}:new`)).length);
    for (const key of keys.slice(0, 100)) expect(await ring.get(key)).toBeNull();
    // Dead nodes fail fast (refused connections), they do not stall callers.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ring.nodeStates().filter((n) => n.state === 'down').map((n) => n.name).sort()).toEqual(dead);

    await Promise.all(dead.map((name) => server(name).restart()));
    await allUp();
    expect(events.stateChange.filter((e) => e.state === 'up').map((e) => e.node).sort()).toEqual(dead);

    // Used again: new writes land on them and reads hit there.
    const fresh = [...keysWithPrimary('cache-1', 20, 'back'), ...keysWithPrimary('cache-2', 20, 'back')];
    await Promise.all(fresh.map((key) => ring.set(key, 'again', 60)));
    events.hit.length = 0;
    for (const key of fresh) expect((await ring.get(key))?.toString()).toBe('again');
    expect(new Set(events.hit.map((e) => e.node))).toEqual(new Set(dead));
    expect(await direct('cache-1', (c) => c.dbsize())).toBeGreaterThan(0);
  });

  it('pays at most one command timeout for a frozen node, then skips it until it is back', async () => {
    const keys = keysWithPrimary('cache-3', 10, 'frozen');
    await Promise.all(keys.map((key) => ring.set(key, `v:${key}`, 300)));
    server('cache-3').freeze();

    let started = Date.now();
    expect((await ring.get(keys[0]!))?.toString()).toBe(`v:${keys[0]}`);
    const first = Date.now() - started;
    expect(first).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
    expect(first).toBeLessThan(COMMAND_TIMEOUT_MS + 400);

    started = Date.now();
    for (const key of keys.slice(1)) expect((await ring.get(key))?.toString()).toBe(`v:${key}`);
    expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS);
    expect(ring.nodeStates().find((n) => n.name === 'cache-3')).toMatchObject({ state: 'down' });
    // Writes and deletes skip it too.
    started = Date.now();
    await ring.set(keys[1]!, 'changed', 300);
    await ring.delete(keys[2]!);
    expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS);

    server('cache-3').thaw();
    await allUp();
    expect((await ring.get(keys[1]!))?.toString()).toBe('changed');
    expect(await ring.get(keys[2]!)).toBeNull();
  });

  it('never returns a deleted key, from any replica, including one that was down during the delete', async () => {
    const key = 'deleted:1';
    await ring.set(key, 'before', 300);
    const [primary, secondary] = ring.replicasFor(key) as [string, string];
    server(primary).freeze();
    await ring.get(key); // notices the frozen primary (one timeout) and reads the secondary
    expect(ring.nodeStates().find((n) => n.name === primary)!.state).toBe('down');
    await ring.delete(key);
    expect(await ring.get(key)).toBeNull();

    server(primary).thaw();
    await allUp();
    expect(await ring.get(key)).toBeNull();
    expect(await direct(primary, (c) => c.get(key))).toBeNull();
    expect(await direct(secondary, (c) => c.get(key))).toBeNull();
  });

  it('empties a node that returns from an outage before reading from it again', async () => {
    const key = 'stale:1';
    const [primary] = ring.replicasFor(key) as [string, string];
    await ring.set(key, 'fresh', 300);
    await ring.delete(key);
    // The node "missed" the delete: it holds an old value, and the ring's connection drops
    // (atomically, so the ring cannot read the value before it notices the node went away).
    await direct(primary, async (c) => {
      await c.multi().set(key, 'stale, deleted meanwhile').call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes').exec();
    });
    await waitFor('the ring to notice', async () => ring.nodeStates().find((n) => n.name === primary)!.state === 'down', { timeoutMs: 5_000, intervalMs: 5 });
    await allUp();
    expect(await ring.get(key)).toBeNull();
    expect(await direct(primary, (c) => c.get(key))).toBeNull();
  });

  it('counts within a window on both replicas and keeps counting when one is gone', async () => {
    const key = 'rate:login:alice';
    expect(await ring.incrementWithin(key, 30)).toBe(1);
    expect(await ring.incrementWithin(key, 30)).toBe(2);
    const [primary, secondary] = ring.replicasFor(key) as [string, string];
    expect(await direct(primary, (c) => c.get(key))).toBe('2');
    // No Redis TTL (volatile-lru must never evict a counter): the window's end is in the ring's expiry index.
    expect(await direct(secondary, (c) => c.pttl(key))).toBe(-1);
    const [seconds] = await direct(secondary, (c) => c.time());
    expect(Number(await direct(secondary, (c) => c.zscore(NEVER_EVICTED_INDEX, key))) - Number(seconds) * 1000).toBeGreaterThan(28_000);
    await server(primary).kill();
    expect(await ring.incrementWithin(key, 30)).toBe(3);
    expect(await ring.incrementWithin(key, 30)).toBe(4);
  });

  it('connects even when the event loop was blocked while the first connection was being made', async () => {
    // A process busy at start-up (loading modules, building its app) sees its connect timeouts
    // fire late; the ring must still come up rather than keep a half-open client forever.
    // Run in a fresh process: only a cold start reproduces the timing.
    const script = fileURLToPath(new URL('../../../fixtures/cache-ring-busy-start.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, servers.spec], { timeout: 30_000 });
    expect(stdout.trim()).toBe('up,up,up,up');
  });

  it('exports per-node hits, misses, errors and state as Prometheus metrics', async () => {
    const registry = createMetricsRegistry('cache-test', { defaults: false });
    const stop = registerCacheMetrics(ring, registry);
    const key = 'metrics:1';
    const [primary] = ring.replicasFor(key) as [string, string];
    await ring.get(key); // two misses
    await ring.set(key, 'v', 60);
    await ring.get(key); // one hit
    await server(primary).kill();
    await ring.get(key); // an error (or a closed connection) on the primary, a hit on the secondary
    const text = await registry.metrics();
    stop();
    expect(text).toContain(`cache_hits_total{node="${primary}",process="cache-test"} 1`);
    expect(text).toContain(`cache_misses_total{node="${primary}",process="cache-test"} 1`);
    expect(text).toContain(`cache_node_up{node="${primary}",process="cache-test"} 0`);
    expect(text).toMatch(/cache_node_up\{node="cache-\d",process="cache-test"\} 1/);
    expect(text).toContain(`cache_node_state_changes_total{node="${primary}",state="down",process="cache-test"} 1`);
  });
});
