import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../src/platform/log.js';
import { waitFor } from '../src/platform/wait.js';
import { createCacheRing, type CacheRing } from '../src/platform/cache/cache-ring.js';
import { HashRing } from '../src/platform/cache/hash-ring.js';
import { parseCacheNodes } from '../src/platform/cache/node-spec.js';
import { startRedisNode, startRedisRing, type RedisRingHandle } from '../test/harness/redis.js';
import { runInterleaved, type BenchCase, type CaseResult, numberArg } from './interleaved.js';

// Cache ring overhead: reads per second and p99 of a cache-hit ring.get() beside one plain
// ioredis GET to a single node, same values, same concurrency, in one run (interleaved slices so
// other load on the machine falls on both alike). Starts its own redis-server processes: four for
// the ring and a fifth for the reference. Then what a consistent-hashing ring
// promises, measured: keys moved when
// a node joins or leaves, load spread, and the hit ratio before, during and after node failures.
//
//   npm run bench:cache-ring -- [--duration=5000] [--rounds=5] [--concurrency=16] [--bytes=16384]

const durationMs = numberArg('duration', 5_000);
const warmupMs = numberArg('warmup', 1_000);
const concurrency = numberArg('concurrency', 16);
const rounds = numberArg('rounds', 5);
const valueBytes = numberArg('bytes', 16_384);
const keyCount = 1_000;

interface ReadCase {
  name: string;
  read: (key: string) => Promise<Buffer | null>;
}

/** Each case reads the keys in turn; a miss counts as an error. */
function readingCases(cases: ReadCase[], keys: string[], expectedLength: number): BenchCase[] {
  return cases.map(({ name, read }) => {
    let next = 0;
    return {
      name,
      call: async () => {
        const value = await read(keys[next++ % keys.length]!);
        if (value?.length !== expectedLength) throw new Error('miss');
      },
    };
  });
}

const [servers, reference] = await Promise.all([startRedisRing(4, 'bench-cache'), startRedisNode('bench-reference')]);
const ring = createCacheRing({ nodes: parseCacheNodes(servers.spec), logger: createLogger({ name: 'bench', level: 'warn' }) });
const single = new Redis({ host: reference.host, port: reference.port });
// Plain clients on the ring's own nodes: tells the ring's code from the cost of four servers.
const plainByNode = new Map(servers.nodes.map((n) => [n.name, new Redis({ host: n.host, port: n.port })]));
try {
  await ring.ready();
  const keys = Array.from({ length: keyCount }, (_, i) => `bench:image:${i}:thumb`);
  const value = randomBytes(valueBytes);
  // Filled like a gateway fills it: a few writes at a time, not 1,000 large ones at once.
  let partial = 0;
  for (let i = 0; i < keys.length; i += concurrency) {
    const batch = keys.slice(i, i + concurrency);
    const written = await Promise.all(batch.map((key) => ring.set(key, value, 600)));
    partial += written.filter((count) => count !== 2).length;
    await Promise.all(batch.map((key) => single.set(key, value, 'EX', 600)));
  }
  if (partial > 0) console.warn(`${partial} of ${keys.length} keys were written to fewer than two replicas (commands timed out: is the machine overloaded?)`);
  const cases: ReadCase[] = [
    { name: 'ioredis GET, one node', read: (key) => single.getBuffer(key) },
    { name: 'ioredis GET, 4 nodes, key on its primary', read: (key) => plainByNode.get(ring.replicasFor(key)[0]!)!.getBuffer(key) },
    { name: 'ring.get, 4 nodes', read: (key) => ring.get(key) },
  ];
  report(await runInterleaved(readingCases(cases, keys, value.length), { durationMs, rounds, warmupMs, concurrency }));
  for (const client of plainByNode.values()) client.disconnect();
  reportRingMath(servers.nodes.map((n) => n.name));
  await reportHitRatios(ring, servers, keys);
} finally {
  single.disconnect();
  for (const client of plainByNode.values()) client.disconnect();
  await ring.close();
  await Promise.all([servers.stop(), reference.kill()]);
}

function report(results: CaseResult[]): void {
  const reference = results[0]!;
  console.log(`Cache ring bench: ${valueBytes}-byte values, ${keyCount} keys, ${concurrency} concurrent readers, ${durationMs / 1000} s per case in ${rounds} interleaved slices`);
  console.table(
    results.map((r) => ({
      case: r.name,
      'reads/s': Math.round(r.callsPerSecond),
      'p50 ms': r.p50Ms.toFixed(3),
      'p99 ms': r.p99Ms.toFixed(3),
      errors: r.errors,
      'throughput vs one-node GET': `${((r.callsPerSecond / reference.callsPerSecond) * 100).toFixed(0)}%`,
    })),
  );
  console.log(JSON.stringify({ bench: 'cache-ring', valueBytes, concurrency, durationMs, results }));
}

function reportRingMath(names: string[]): void {
  const keys = Array.from({ length: 100_000 }, (_, i) => `image:${i}:raw`);
  const ring = new HashRing(names);
  const before = keys.map((key) => ring.nodesFor(key, 2));
  const primary = new Map(names.map((n) => [n, 0]));
  const stored = new Map(names.map((n) => [n, 0]));
  for (const pair of before) {
    primary.set(pair[0]!, primary.get(pair[0]!)! + 1);
    for (const node of pair) stored.set(node, stored.get(node)! + 1);
  }
  const joining = `${names[0]!}-new`;
  ring.addNode(joining);
  const afterJoin = keys.map((key) => ring.nodesFor(key, 2));
  const movedOnJoin = afterJoin.filter((pair, i) => pair[0] !== before[i]![0]).length / keys.length;
  const leaving = names[1]!;
  ring.removeNode(leaving);
  const afterLeave = keys.map((key) => ring.nodesFor(key, 2));
  const movedOnLeave = afterLeave.filter((pair, i) => pair[0] !== afterJoin[i]![0]).length / keys.length;
  const onlyLeaversKeys = afterLeave.every((pair, i) => pair[0] === afterJoin[i]![0] || afterJoin[i]![0] === leaving);
  console.log(`Ring math, ${keys.length} keys, 160 points per node:`);
  console.table(names.map((n) => ({ node: n, 'primary load vs even': pct(primary.get(n)! / (keys.length / names.length) - 1), 'stored load vs even': pct(stored.get(n)! / ((2 * keys.length) / names.length) - 1) })));
  console.log(`a 5th node joining moved ${pct(movedOnJoin)} of primaries (ideal 20.0%); one of five leaving moved ${pct(movedOnLeave)} (ideal 20.0%), ${onlyLeaversKeys ? 'only' : 'NOT only'} keys that lived on it`);
}

async function reportHitRatios(ring: CacheRing, servers: RedisRingHandle, keys: string[]): Promise<void> {
  const hitsByNode = new Map<string, number>();
  ring.on('hit', ({ node }) => hitsByNode.set(node, (hitsByNode.get(node) ?? 0) + 1));
  const measure = async (phase: string) => {
    hitsByNode.clear();
    let hits = 0;
    let failures = 0;
    const started = performance.now();
    for (let i = 0; i < keys.length; i += concurrency) {
      const results = await Promise.all(keys.slice(i, i + concurrency).map((key) => ring.get(key).catch(() => void failures++)));
      hits += results.filter((r) => r instanceof Buffer).length;
    }
    const down = ring.nodeStates().filter((n) => n.state === 'down').map((n) => n.name);
    return { phase, 'hit ratio': pct(hits / keys.length), 'failed calls': failures, 'elapsed ms': Math.round(performance.now() - started), 'nodes down': down.join(' ') || '-', 'hits by node': [...hitsByNode].map(([n, c]) => `${n}:${c}`).join(' ') };
  };
  const [first, second] = servers.nodes as [RedisRingHandle['nodes'][0], RedisRingHandle['nodes'][0]];
  const rows = [await measure('all four up')];
  await first.kill();
  rows.push(await measure(`${first.name} killed`));
  await second.kill();
  rows.push(await measure(`${first.name} and ${second.name} killed`));
  await Promise.all([first.restart(), second.restart()]);
  await waitFor('both nodes back in the ring', () => ring.nodeStates().every((n) => n.state !== 'down'), { timeoutMs: 10_000, intervalMs: 20 }).catch(() => undefined);
  rows.push(await measure('both back (flushed, read repair)'));
  rows.push(await measure('after read repair'));
  console.log(`Hit ratio of ${keys.length} cached keys read through the ring:`);
  console.table(rows);
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
