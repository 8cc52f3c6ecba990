import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../../../src/platform/http.js';
import { createLogger } from '../../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { AppError } from '../../../../src/platform/errors.js';
import { bytes, defineService } from '../../../../src/platform/rpc/contract.js';
import { registerRpcService, type RpcContext } from '../../../../src/platform/rpc/server.js';
import { createRpcClient, fixedTransport, type RpcTransport } from '../../../../src/platform/rpc/client.js';
import { testCredentials } from '../../../support/credentials.js';

const echoContract = defineService('Echo', 'ECHO SERVICE', {
  Greet: { input: z.object({ name: z.string().min(1) }), output: z.object({ greeting: z.string(), idempotencyKey: z.string().nullable() }), idempotent: true },
  Fail: { input: z.object({}), output: z.object({}), idempotent: true },
  Crash: { input: z.object({}), output: z.object({}), idempotent: true },
  Invert: { input: z.object({ label: z.string(), data: bytes() }), output: z.object({ label: z.string(), size: z.number(), data: bytes() }), idempotent: true, bytesIn: 'data', bytesOut: 'data' },
  Deadline: { input: z.object({}), output: z.object({ remainingMs: z.number() }), idempotent: true },
});

describe('RPC over HTTP', () => {
  let app: FastifyInstance;
  let transport: RpcTransport;
  let client: ReturnType<typeof createRpcClient<typeof echoContract.methods>>;

  beforeAll(async () => {
    app = createHttpServer({ logger: createLogger({ name: 'echo', level: 'silent' }), metrics: createMetricsRegistry('echo', { defaults: false }) });
    registerRpcService(app, echoContract, {
      Greet: async ({ name }, context: RpcContext) => ({ greeting: `hello ${name}`, idempotencyKey: context.idempotencyKey ?? null }),
      Fail: async () => {
        throw new AppError('NOT_FOUND', 'no such greeting');
      },
      Crash: async () => {
        throw new Error('secret internals');
      },
      Invert: async ({ label, data }) => ({ label: label.toUpperCase(), size: data.length, data: Buffer.from(data.map((b) => 255 - b)) }),
      Deadline: async (_input, context) => ({ remainingMs: context.deadline - Date.now() }),
    }, { credentials: testCredentials(echoContract.serviceName) });
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    transport = fixedTransport(origin, { credentials: testCredentials() });
    client = createRpcClient(echoContract, transport);
  });
  afterAll(async () => {
    await transport.close?.();
    await app.close();
  });

  it('calls a method with typed JSON in and out, passing the idempotency key', async () => {
    expect(await client.Greet({ name: 'Ada' }, { idempotencyKey: 'k-1' })).toEqual({ greeting: 'hello Ada', idempotencyKey: 'k-1' });
  });

  it('carries raw bytes both ways beside JSON fields', async () => {
    const data = Buffer.from([0, 1, 2, 250, 255]);
    const result = await client.Invert({ label: 'img', data });
    expect(result.label).toBe('IMG');
    expect(result.size).toBe(5);
    expect([...result.data]).toEqual([255, 254, 253, 5, 0]);
  });

  it('carries long JSON fields beside bytes, beyond any header size limit', async () => {
    const label = 'é'.repeat(50_000);
    const result = await client.Invert({ label, data: Buffer.from([1, 2, 3]) });
    expect(result.label).toBe(label.toUpperCase());
    expect([...result.data]).toEqual([254, 253, 252]);
  });

  it('rebuilds the callee error with its stable code', async () => {
    await expect(client.Fail({})).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no such greeting' });
  });

  it('rejects invalid input on the server with INVALID_ARGUMENT', async () => {
    await expect(client.Greet({ name: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('hides an unexpected server error behind INTERNAL', async () => {
    const error = await client.Crash({}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
  });

  it('propagates the caller deadline downstream', async () => {
    const { remainingMs } = await client.Deadline({}, { timeoutMs: 1500 });
    expect(remainingMs).toBeGreaterThan(1000);
    expect(remainingMs).toBeLessThanOrEqual(1500);
  });

  it('fails with UNAVAILABLE when nothing listens', async () => {
    const dead = fixedTransport('http://127.0.0.1:9', { credentials: testCredentials() });
    await expect(createRpcClient(echoContract, dead).Greet({ name: 'x' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await dead.close?.();
  });
});
