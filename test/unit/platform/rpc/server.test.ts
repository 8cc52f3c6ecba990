import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHttpServer } from '../../../../src/platform/http.js';
import { createLogger } from '../../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { AppError } from '../../../../src/platform/errors.js';
import { defineService } from '../../../../src/platform/rpc/contract.js';
import { registerRpcService } from '../../../../src/platform/rpc/server.js';

// The RPC server answers every failure in the wire shape with the wire status, including the
// ones the HTTP layer raises before the handler (a body too large), so the caller can read it.

const contract = defineService('Probe', 'PROBE SERVICE', {
  Echo: { input: z.object({ text: z.string().max(10) }), output: z.object({ text: z.string() }), idempotent: true },
  Busy: { input: z.object({}), output: z.object({}), idempotent: true },
  Crash: { input: z.object({}), output: z.object({}), idempotent: true },
});

function server() {
  const app = createHttpServer({ logger: createLogger({ name: 'probe', level: 'silent' }), metrics: createMetricsRegistry('probe', { defaults: false }), bodyLimit: 1024 });
  registerRpcService(app, contract, {
    Echo: async ({ text }) => ({ text }),
    Busy: async () => {
      throw new AppError('UNAVAILABLE', 'users unavailable', { details: { dependency: 'users' } });
    },
    Crash: async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432');
    },
  });
  return app;
}

const call = (method: string, payload: unknown) =>
  server().inject({ method: 'POST', url: `/rpc/Probe.${method}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

describe('RPC server failures', () => {
  const table: Array<[string, string, unknown, number, Record<string, unknown>]> = [
    ['invalid input', 'Echo', { text: 'x'.repeat(11) }, 400, { code: 'INVALID_ARGUMENT' }],
    ['a dependency down', 'Busy', {}, 503, { code: 'UNAVAILABLE', message: 'users unavailable', details: { dependency: 'users' }, retryAfterSeconds: 1 }],
    ['a crash', 'Crash', {}, 500, { code: 'INTERNAL', message: 'internal error' }],
    ['a body over the limit', 'Echo', { text: 'x'.repeat(2_000) }, 413, { code: 'PAYLOAD_TOO_LARGE' }],
  ];
  for (const [what, method, payload, status, body] of table) {
    it(`answers ${what} with ${status} in the wire shape`, async () => {
      const response = await call(method, payload);
      expect(response.statusCode).toBe(status);
      expect(response.json()).toMatchObject(body);
      expect(response.json()).not.toHaveProperty('message', 'failure');
      if (status === 503) expect(response.headers['retry-after']).toBe('1');
      expect(response.body).not.toContain('10.0.0.7');
    });
  }
});
