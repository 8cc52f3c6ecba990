import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHttpServer } from '../../../../src/platform/http.js';
import { createLogger } from '../../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { AppError } from '../../../../src/platform/errors.js';
import { defineService } from '../../../../src/platform/rpc/contract.js';
import { registerRpcService } from '../../../../src/platform/rpc/server.js';
import { serviceAuthHeaders } from '../../../../src/platform/service-auth.js';
import { testCredentials } from '../../../support/credentials.js';

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
  }, { credentials: testCredentials(contract.serviceName) });
  return app;
}

const call = (method: string, payload: unknown) =>
  server().inject({ method: 'POST', url: `/rpc/Probe.${method}`, headers: { 'content-type': 'application/json', [serviceAuthHeaders.service]: testCredentials().tokenFor(contract.serviceName) }, payload: JSON.stringify(payload) });

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

describe('RPC server authentication', () => {
  const guarded = defineService('Guarded', 'GUARDED SERVICE', {
    Open: { input: z.object({}), output: z.object({ caller: z.string() }), idempotent: true },
    GatewayOnly: { input: z.object({}), output: z.object({}), idempotent: true },
    ForUser: { input: z.object({ userId: z.string() }), output: z.object({ name: z.string() }), idempotent: true },
  });
  const app = createHttpServer({ logger: createLogger({ name: 'guarded', level: 'silent' }), metrics: createMetricsRegistry('guarded', { defaults: false }) });
  registerRpcService(app, guarded, {
    Open: async (_input, context) => ({ caller: context.caller.service }),
    GatewayOnly: async () => ({}),
    ForUser: async (_input, context) => ({ name: context.user?.name ?? '' }),
  }, { credentials: testCredentials(guarded.serviceName), access: { GatewayOnly: { callers: ['GATEWAY'] }, ForUser: { callers: ['GATEWAY'], actingUserField: 'userId' } } });
  const post = (method: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/rpc/Guarded.${method}`, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload) });
  const as = (service: string) => ({ [serviceAuthHeaders.service]: testCredentials(service).tokenFor(guarded.serviceName) });
  const forUser = (userId: string) => ({ [serviceAuthHeaders.user]: testCredentials('GATEWAY').assertUser({ userId, name: `name of ${userId}` }, guarded.serviceName) });

  it('refuses a call without a service token, with a bad one, or one meant for another service (401)', async () => {
    expect((await post('Open', {})).statusCode).toBe(401);
    expect((await post('Open', {}, { [serviceAuthHeaders.service]: 'not-a-token' })).statusCode).toBe(401);
    expect((await post('Open', {}, { [serviceAuthHeaders.service]: testCredentials('GATEWAY').tokenFor('OTHER SERVICE') })).statusCode).toBe(401);
    expect((await post('Open', {}, { [serviceAuthHeaders.service]: testCredentials('GATEWAY', 'g', 'another-cluster-secret-0123456789').tokenFor(guarded.serviceName) })).statusCode).toBe(401);
    const ok = await post('Open', {}, as('IMAGE SERVICE'));
    expect(ok.json()).toEqual({ caller: 'IMAGE SERVICE' });
  });

  it('refuses a caller not allowed for the method (403)', async () => {
    expect((await post('GatewayOnly', {}, as('IMAGE SERVICE'))).statusCode).toBe(403);
    expect((await post('GatewayOnly', {}, as('GATEWAY'))).statusCode).toBe(200);
  });

  it('acts for a user only with an assertion naming that user', async () => {
    expect((await post('ForUser', { userId: 'u-1' }, as('GATEWAY'))).statusCode).toBe(401);
    expect((await post('ForUser', { userId: 'u-1' }, { ...as('GATEWAY'), ...forUser('u-2') })).statusCode).toBe(403);
    const ok = await post('ForUser', { userId: 'u-1' }, { ...as('GATEWAY'), ...forUser('u-1') });
    expect(ok.json()).toEqual({ name: 'name of u-1' });
  });
});
