import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { startPostgres } from '../test/harness/postgres.js';
import { startRedisRing } from '../test/harness/redis.js';
import { startStack } from '../test/harness/stack.js';
import { makeImage } from '../test/fixtures/images.js';
import { createCacheRing, parseCacheNodes } from '../src/platform/cache/index.js';
import { createLogger } from '../src/platform/log.js';
import { numberArg, reportRatios, runInterleaved, type BenchCase } from './interleaved.js';

// Cache-hit GET /{imgID} through the gateway (auth-free read, generation lookup, one ring read,
// base64 JSON answer, view recorded) beside two references serving the same answer: a minimal
// Fastify + ioredis (one GET per request) and a bare Fastify from memory. One run, as ratios.
//
//   npm run bench:gateway-cache -- [--duration=6000 --concurrency=16]

const settings = {
  durationMs: numberArg('duration', 6_000),
  rounds: numberArg('rounds', 3),
  warmupMs: numberArg('warmup', 1_000),
  concurrency: numberArg('concurrency', 16),
};

async function main(): Promise<void> {
  const postgres = await startPostgres();
  const redis = await startRedisRing(4, 'cache');
  const ring = createCacheRing({ nodes: parseCacheNodes(redis.spec), logger: createLogger({ name: 'ring', level: 'silent' }) });
  const stack = await startStack({ createDatabase: postgres.createDatabase, sharedState: ring });
  const references: Array<{ close(): Promise<unknown> }> = [];
  const pools: Pool[] = [];
  try {
    const imageId = await uploadOne(stack.gatewayUrl);
    const path = `/${imageId}`;
    const answer = Buffer.from(await (await fetch(`${stack.gatewayUrl}${path}`)).arrayBuffer());

    const redisClient = new Redis({ host: redis.nodes[0]!.host, port: redis.nodes[0]!.port, lazyConnect: false });
    await redisClient.set('answer', answer);
    const withRedis = Fastify();
    withRedis.get('/:imgID', async (_request, reply) => reply.type('application/json').send(await redisClient.getBuffer('answer')));
    const fromMemory = Fastify();
    fromMemory.get('/:imgID', async (_request, reply) => reply.type('application/json').send(answer));
    references.push(withRedis, fromMemory, { close: () => redisClient.quit() });
    const origins = {
      'gateway, cache hit': stack.gatewayUrl,
      'Fastify + ioredis GET': await withRedis.listen({ host: '127.0.0.1', port: 0 }),
      'bare Fastify from memory': await fromMemory.listen({ host: '127.0.0.1', port: 0 }),
    };
    const cases: BenchCase[] = Object.entries(origins).map(([name, origin]) => {
      const pool = new Pool(origin, { connections: settings.concurrency });
      pools.push(pool);
      return {
        name,
        call: async () => {
          const response = await pool.request({ method: 'GET', path });
          const body = Buffer.from(await response.body.arrayBuffer());
          if (response.statusCode !== 200 || body.length !== answer.length) throw new Error(`bad answer ${response.statusCode}`);
        },
      };
    });
    const results = await runInterleaved(cases, settings);
    reportRatios(`GET /{imgID} (${answer.length} bytes of JSON), ${settings.concurrency} concurrent clients, ${settings.durationMs / 1000} s per case`, results, 'Fastify + ioredis GET');
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    await Promise.allSettled(references.map((r) => r.close()));
    await stack.stop();
    await ring.close();
    await redis.stop();
    await postgres.stop();
  }
}

async function uploadOne(gatewayUrl: string): Promise<string> {
  const post = (path: string, body: unknown, token?: string) => fetch(`${gatewayUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const credentials = { name: 'benchartist', password: 'bench password 1' };
  await post('/signup', credentials);
  const { accessToken } = (await (await post('/login', credentials)).json()) as { accessToken: string };
  const image = await makeImage('jpeg', 640, 400);
  const { imageID } = (await (await post('/img', { imageBlob: image.toString('base64'), title: 'bench' }, accessToken)).json()) as { imageID: string };
  if (!imageID) throw new Error('upload failed');
  return imageID;
}

await main();
