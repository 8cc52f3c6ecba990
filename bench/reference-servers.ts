import Fastify from 'fastify';
import { Redis } from 'ioredis';

// The two references of bench:gateway-cache, in a process of their own (as the gateway's workers
// are), so that the load generator never shares an event loop with what it measures:
// - Fastify + ioredis: one GET of the stored answer from Redis per request;
// - bare Fastify: the same answer from memory.
// Both answer GET /:imgID (JSON), /:imgID/info (JSON) and /:imgID/raw (the bytes). The answers
// are read from Redis keys bench:ref:{answer,info,raw} (written by the bench) at start.
// Started by bench/gateway-cache.bench.ts with REFERENCE_REDIS=host:port and the cluster's Redis
// login (REFERENCE_REDIS_USER, REFERENCE_REDIS_PASSWORD: its nodes refuse anonymous clients);
// reports its two origins over IPC.

const [host, port] = (process.env.REFERENCE_REDIS ?? '127.0.0.1:6379').split(':') as [string, string];
const login = process.env.REFERENCE_REDIS_PASSWORD ? { username: process.env.REFERENCE_REDIS_USER ?? 'default', password: process.env.REFERENCE_REDIS_PASSWORD } : {};
// The service user may run only the commands Easel uses (no INFO for ioredis's ready check).
const redis = new Redis({ host, port: Number(port), enableReadyCheck: false, ...login });
const keys = { answer: 'bench:ref:answer', info: 'bench:ref:info', raw: 'bench:ref:raw' } as const;
const contentType = process.env.REFERENCE_RAW_TYPE ?? 'image/png';

const inMemory = {
  answer: (await redis.getBuffer(keys.answer))!,
  info: (await redis.getBuffer(keys.info))!,
  raw: (await redis.getBuffer(keys.raw))!,
};

const withRedis = Fastify();
withRedis.get('/:imgID', async (_request, reply) => reply.type('application/json; charset=utf-8').send(await redis.getBuffer(keys.answer)));
withRedis.get('/:imgID/info', async (_request, reply) => reply.type('application/json; charset=utf-8').send(await redis.getBuffer(keys.info)));
withRedis.get('/:imgID/raw', async (_request, reply) => reply.type(contentType).send(await redis.getBuffer(keys.raw)));

const fromMemory = Fastify();
fromMemory.get('/:imgID', async (_request, reply) => reply.type('application/json; charset=utf-8').send(inMemory.answer));
fromMemory.get('/:imgID/info', async (_request, reply) => reply.type('application/json; charset=utf-8').send(inMemory.info));
fromMemory.get('/:imgID/raw', async (_request, reply) => reply.type(contentType).send(inMemory.raw));

const origins = {
  withRedis: await withRedis.listen({ host: '127.0.0.1', port: 0 }),
  fromMemory: await fromMemory.listen({ host: '127.0.0.1', port: 0 }),
};
process.send?.({ origins });
process.once('disconnect', () => void Promise.allSettled([withRedis.close(), fromMemory.close()]).then(() => redis.quit()).finally(() => process.exit(0)));
