import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { startTestCluster, type TestCluster } from '../test/harness/cluster.js';
import { apiClient } from '../test/support/api-client.js';
import { makeImage } from '../test/fixtures/images.js';
import { parseCacheNodes } from '../src/platform/cache/index.js';
import { serviceRedisUser } from '../src/launcher/redis-config.js';
import { numberArg, reportRatios, runInterleaved, type BenchCase, type CaseResult } from './interleaved.js';

// Cache hits through the cluster's real gateway (the launcher's code path: a Node cluster with
// every worker, discovery, the services, the Redis ring) beside two references serving the same
// bytes from a process of their own: Fastify + ioredis doing one GET of the stored answer per
// request, and bare Fastify from memory. For GET /{imgID} (the original contract's JSON with the
// image in base64), /{imgID}/info and /{imgID}/raw, in one run, interleaved, as ratios and p99.
// The load generator is an undici loop on 127.0.0.1, bounded in time.
//
//   npm run build && npm run bench:gateway-cache -- [--duration=6000 --rounds=3 --concurrency=32 --workers=2]
//
// Targets (issue 15): GET /{imgID} >= 1.0x Fastify + ioredis in req/s with p99 <= 1.5x its p99;
// /raw >= 0.5x bare Fastify.

const settings = {
  durationMs: numberArg('duration', 6_000),
  rounds: numberArg('rounds', 3),
  warmupMs: numberArg('warmup', 1_000),
  concurrency: numberArg('concurrency', 32),
  workers: numberArg('workers', 2),
  /** The issue measured with a 97 KB PNG (130 KB of JSON). */
  imageSide: numberArg('image-side', 180),
};

async function main(): Promise<void> {
  let cluster: TestCluster | undefined;
  let references: ChildProcess | undefined;
  let redis: Redis | undefined;
  const pools: Pool[] = [];
  try {
    console.log(`starting the cluster (${settings.workers} gateway workers)...`);
    cluster = await startTestCluster({ layout: { logLevel: 'warn', gateway: { workers: settings.workers } } });
    const api = apiClient(cluster.gatewayUrl);
    // The services register with discovery just after they are ready: give them a moment.
    const image = await makeImage('png', settings.imageSide, settings.imageSide);
    let imageId = '';
    for (let attempt = 0; !imageId; attempt++) {
      try {
        const artist = await api.newAccount('benchartist', 'bench password 1');
        const upload = await api.upload(artist.accessToken, image, { title: 'bench', description: 'the image of the read-path benchmark' });
        imageId = (upload.body.imageID as string | undefined) ?? '';
        if (!imageId) throw new Error(`upload failed: ${JSON.stringify(upload.body)}`);
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await api.close();

    // The exact bytes the gateway answers, stored for the references.
    const fetchBytes = async (path: string) => Buffer.from(await (await fetch(`${cluster!.gatewayUrl}${path}`)).arrayBuffer());
    const answers = { answer: await fetchBytes(`/${imageId}`), info: await fetchBytes(`/${imageId}/info`), raw: await fetchBytes(`/${imageId}/raw`) };
    const node = parseCacheNodes(cluster.redisNodes)[0]!;
    // The ring's nodes refuse anonymous clients: the reference logs in as the services do.
    const login = { username: serviceRedisUser, password: cluster.secrets['redis-easel-password'] };
    redis = new Redis({ host: node.host, port: node.port, enableReadyCheck: false, ...login });
    for (const [name, bytes] of Object.entries(answers)) await redis.set(`bench:ref:${name}`, bytes);
    references = fork(fileURLToPath(new URL('./reference-servers.js', import.meta.url)), [], {
      env: { ...process.env, REFERENCE_REDIS: `${node.host}:${node.port}`, REFERENCE_REDIS_USER: login.username, REFERENCE_REDIS_PASSWORD: login.password },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const origins = await new Promise<{ withRedis: string; fromMemory: string }>((resolve, reject) => {
      references!.once('message', (message) => resolve((message as { origins: { withRedis: string; fromMemory: string } }).origins));
      references!.once('exit', (code) => reject(new Error(`reference servers exited (${code})`)));
    });

    const targets = { gateway: cluster.gatewayUrl, 'Fastify + ioredis GET': origins.withRedis, 'bare Fastify from memory': origins.fromMemory };
    const summary: Array<{ path: string; results: CaseResult[] }> = [];
    for (const [label, path, expected] of [
      ['GET /{imgID}', `/${imageId}`, answers.answer],
      ['GET /{imgID}/info', `/${imageId}/info`, answers.info],
      ['GET /{imgID}/raw', `/${imageId}/raw`, answers.raw],
    ] as const) {
      const cases: BenchCase[] = Object.entries(targets).map(([name, origin]) => {
        const pool = new Pool(origin, { connections: settings.concurrency, pipelining: 1 });
        pools.push(pool);
        return {
          name,
          call: async () => {
            const response = await pool.request({ method: 'GET', path });
            let length = 0;
            for await (const chunk of response.body) length += (chunk as Buffer).length;
            if (response.statusCode !== 200 || length !== expected.length) throw new Error(`bad answer ${response.statusCode}, ${length} bytes`);
          },
        };
      });
      const results = await runInterleaved(cases, settings);
      summary.push({ path: label, results });
      reportRatios(`${label} (${expected.length} bytes), ${settings.concurrency} concurrent clients, ${settings.durationMs / 1000} s per case, gateway with ${settings.workers} workers`, results, 'Fastify + ioredis GET');
    }

    console.log('\nsummary against the targets of issue 15:');
    const find = (path: string, name: string) => summary.find((s) => s.path === path)!.results.find((r) => r.name === name)!;
    const ratio = (path: string, reference: string) => {
      const gateway = find(path, 'gateway');
      const ref = find(path, reference);
      return { throughput: gateway.callsPerSecond / ref.callsPerSecond, p99: gateway.p99Ms / ref.p99Ms };
    };
    const get = ratio('GET /{imgID}', 'Fastify + ioredis GET');
    const raw = ratio('GET /{imgID}/raw', 'bare Fastify from memory');
    console.table([
      { target: 'GET /{imgID} req/s vs Fastify + ioredis (>= 1.0)', ratio: get.throughput.toFixed(2), met: get.throughput >= 1 },
      { target: 'GET /{imgID} p99 vs Fastify + ioredis (<= 1.5)', ratio: get.p99.toFixed(2), met: get.p99 <= 1.5 },
      { target: '/raw req/s vs bare Fastify (>= 0.5)', ratio: raw.throughput.toFixed(2), met: raw.throughput >= 0.5 },
    ]);
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    references?.disconnect();
    await redis?.quit().catch(() => undefined);
    await cluster?.stop();
  }
}

await main();
