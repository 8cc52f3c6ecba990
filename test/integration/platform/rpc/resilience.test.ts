import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { AppError } from '../../../../src/platform/errors.js';
import { createRpcClient } from '../../../../src/platform/rpc/client.js';
import { createDiscoveryTransport, type DiscoveryTransport } from '../../../../src/platform/rpc/discovery-transport.js';
import { buildEchoApp, echoService } from '../../../support/echo-service.js';
import { rpcHeaders } from '../../../../src/platform/rpc/contract.js';
import { freePort } from '../../../../src/platform/ports.js';
import { waitFor } from '../../../../src/platform/wait.js';
import { startRegistration, type Registration } from '../../../../src/platform/discovery/registration.js';
import { buildDiscoveryApp } from '../../../../src/discovery/app.js';
import { startEchoInstance, type ServiceProcessHandle } from '../../../support/service-processes.js';
import { testClusterSecret, testCredentials } from '../../../support/credentials.js';

// Breakers, retries and per-try timeouts against real instances: a SIGSTOPped process and a
// server that accepts calls and never answers.

const logger = createLogger({ name: 'resilience-it', level: 'silent' });

async function startDiscovery() {
  const { app } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-res', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'] },
    logger,
    metrics: createMetricsRegistry('discovery-res', { defaults: false }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, address: `127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

async function startInProcessEcho(name: string, discovery: string): Promise<{ app: FastifyInstance; registration: Registration; host: string }> {
  const app = buildEchoApp(name);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const host = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, host, registration: startRegistration({ discovery: [discovery], serviceName: echoService.serviceName, host, logger, credentials: testCredentials(echoService.serviceName) }) };
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await run();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe('a frozen (SIGSTOPped) instance', () => {
  let discovery: Awaited<ReturnType<typeof startDiscovery>>;
  const healthy: Array<Awaited<ReturnType<typeof startInProcessEcho>>> = [];
  let frozen: ServiceProcessHandle;
  let transport: DiscoveryTransport;
  const metrics = createMetricsRegistry('resilience-it', { defaults: false });
  const perTryTimeoutMs = 400;

  beforeAll(async () => {
    discovery = await startDiscovery();
    healthy.push(await startInProcessEcho('echo-a', discovery.address), await startInProcessEcho('echo-b', discovery.address));
    frozen = await startEchoInstance([discovery.address], echoService.serviceName, 'echo-frozen');
    transport = createDiscoveryTransport({
      credentials: testCredentials(),
      discovery: [discovery.address], mode: 'snapshot', logger, metrics,
      perTryTimeoutMs, breaker: { consecutiveFailures: 1, halfOpenAfterMs: 4_000 },
    });
    await waitFor('three instances in the snapshot', () => transport.instancesOf(echoService.serviceName).length >= 3, { timeoutMs: 5_000, intervalMs: 100 });
    expect(transport.instancesOf(echoService.serviceName)).toHaveLength(3);
  }, 30_000);

  afterAll(async () => {
    await transport?.close();
    await frozen?.kill();
    for (const instance of healthy) {
      await instance.registration.stop();
      await instance.app.close();
    }
    await discovery?.app.close();
  });

  it('costs at most one per-try timeout per request that hit it, then is skipped until it recovers', async () => {
    const client = createRpcClient(echoService, transport);
    const warm = await Promise.all(Array.from({ length: 30 }, () => client.Echo({ text: 'warm' })));
    expect(new Set(warm.map((a) => a.instance))).toEqual(new Set(['echo-a', 'echo-b', 'echo-frozen']));

    frozen.freeze();
    const calls: Array<{ ms: number; instance?: string; error?: unknown }> = [];
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      const result = await timed(() => client.Echo({ text: 'during freeze' }, { timeoutMs: 2_000 }));
      calls.push({ ms: result.ms, instance: result.value?.instance, error: result.error });
    }
    expect(calls.filter((c) => c.error)).toEqual([]);
    expect(calls.every((c) => c.instance !== 'echo-frozen')).toBe(true);
    // Only the request(s) that hit the frozen instance before its breaker opened paid, and
    // each paid one per-try timeout, not more.
    const slow = calls.filter((c) => c.ms >= perTryTimeoutMs * 0.8);
    expect(slow.length).toBeLessThanOrEqual(1);
    expect(Math.max(...calls.map((c) => c.ms))).toBeLessThan(perTryTimeoutMs * 2);
    expect(calls.length).toBeGreaterThan(50);
    const frozenHost = frozen.host;
    expect(transport.breakerState(frozenHost)).toBe('open');

    // Thawed, it heartbeats again; after the half-open wait a probe succeeds and it serves again.
    frozen.thaw();
    await waitFor('the thawed instance to serve again', async () => {
      const answers = await Promise.all(Array.from({ length: 6 }, () => client.Echo({ text: 'after thaw' })));
      return answers.some((a) => a.instance === 'echo-frozen');
    }, { timeoutMs: 8_000, intervalMs: 100 });
    expect(transport.breakerState(frozenHost)).toBe('closed');
  }, 30_000);

  it('drops the breaker series of an instance that has left the registry', async () => {
    const client = createRpcClient(echoService, transport);
    const leaving = await startInProcessEcho('echo-leaving', discovery.address);
    await waitFor('the new instance in the snapshot', () => transport.instancesOf(echoService.serviceName).includes(leaving.host), { timeoutMs: 5_000, intervalMs: 50 });
    // It stops answering; calls fail over to the others and its breaker opens.
    await leaving.app.close();
    await waitFor('its breaker to open', async () => {
      await Promise.all(Array.from({ length: 6 }, () => client.Echo({ text: 'spread' })));
      return transport.breakerState(leaving.host) === 'open';
    }, { timeoutMs: 5_000, intervalMs: 50 });
    const breakerSeries = async () => (await metrics.getSingleMetricAsString('rpc_client_breaker_state')).split('\n').filter((line) => line.includes(leaving.host));
    expect(await breakerSeries()).toEqual([expect.stringMatching(/ 1$/)]);
    // It leaves the registry: its series goes with it instead of showing it open forever.
    await leaving.registration.stop();
    await waitFor('its series to go', async () => (await breakerSeries()).length === 0, { timeoutMs: 8_000, intervalMs: 100 });
  }, 30_000);
});

describe('retries and deadlines', () => {
  let discovery: Awaited<ReturnType<typeof startDiscovery>>;
  let good: Awaited<ReturnType<typeof startInProcessEcho>>;
  let hanging: Server;
  let hangingRegistration: Registration;
  const seenTimeoutHeaders: number[] = [];
  let transport: DiscoveryTransport;
  const perTryTimeoutMs = 300;

  beforeAll(async () => {
    discovery = await startDiscovery();
    good = await startInProcessEcho('echo-good', discovery.address);
    // Accepts calls, notes the deadline it was given, never answers.
    hanging = createServer((request) => {
      seenTimeoutHeaders.push(Number(request.headers[rpcHeaders.timeout]));
      request.resume();
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const hangingHost = `127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    hangingRegistration = startRegistration({ discovery: [discovery.address], serviceName: echoService.serviceName, host: hangingHost, logger, credentials: testCredentials(echoService.serviceName) });
    // A breaker that never opens and a budget that never runs out here, so every call meets
    // the hanging instance in turn and only the retry rules decide.
    transport = createDiscoveryTransport({
      credentials: testCredentials(),
      discovery: [discovery.address], mode: 'snapshot', logger, perTryTimeoutMs,
      breaker: { consecutiveFailures: 1_000, minimumRps: 1_000 }, retryBudget: { minRetriesPerWindow: 1_000 },
    });
    await waitFor('two instances in the snapshot', () => transport.instancesOf(echoService.serviceName).length >= 2, { timeoutMs: 5_000, intervalMs: 100 });
    expect(transport.instancesOf(echoService.serviceName)).toHaveLength(2);
  }, 30_000);

  afterAll(async () => {
    await transport?.close();
    await hangingRegistration?.stop();
    hanging?.closeAllConnections();
    hanging?.close();
    await good?.registration.stop();
    await good?.app.close();
    await discovery?.app.close();
  });

  it('does not repeat a non-idempotent call that may have reached the callee', async () => {
    const client = createRpcClient(echoService, transport);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await timed(() => client.Record({ text: `record ${i}` }, { timeoutMs: 5_000 })));
    const failed = results.filter((r) => r.error);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const failure of failed) {
      expect(failure.error).toBeInstanceOf(AppError);
      expect((failure.error as AppError).code).toBe('UNAVAILABLE');
      // One per-try timeout, then the caller hears about it: no second attempt.
      expect(failure.ms).toBeGreaterThanOrEqual(perTryTimeoutMs * 0.9);
      expect(failure.ms).toBeLessThan(perTryTimeoutMs * 1.8);
    }
  });

  it('retries an idempotent call, or one with an idempotency key, on the other instance', async () => {
    const client = createRpcClient(echoService, transport);
    for (let i = 0; i < 6; i++) {
      expect((await client.Echo({ text: `echo ${i}` })).instance).toBe('echo-good');
      expect((await client.Record({ text: `keyed ${i}` }, { idempotencyKey: `key-${i}` })).instance).toBe('echo-good');
    }
  });

  it('sends the time left downstream, capped by the per-try timeout, and stops at the deadline', async () => {
    const client = createRpcClient(echoService, transport);
    seenTimeoutHeaders.length = 0;
    await Promise.allSettled(Array.from({ length: 4 }, () => client.Echo({ text: 'x' }, { timeoutMs: 5_000 })));
    expect(seenTimeoutHeaders.length).toBeGreaterThan(0);
    for (const header of seenTimeoutHeaders) {
      expect(header).toBeGreaterThan(0);
      expect(header).toBeLessThanOrEqual(perTryTimeoutMs);
    }
    // A call whose whole deadline is shorter than one try ends at its deadline.
    const short = await timed(() => client.Sleep({ ms: 0 }, { timeoutMs: 150 }));
    if (short.error) expect((short.error as AppError).code).toBe('DEADLINE_EXCEEDED');
    expect(short.ms).toBeLessThan(400);
  });
});

describe('a client started before discovery', () => {
  it('fails fast with UNAVAILABLE and a retry hint, then serves as soon as discovery and an instance are up', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const transport = createDiscoveryTransport({ credentials: testCredentials(), discovery: [address], mode: 'snapshot', logger });
    const client = createRpcClient(echoService, transport);
    const early = await timed(() => client.Echo({ text: 'too early' }));
    expect(early.error).toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 1 });
    expect(early.ms).toBeLessThan(1_500);

    const { app } = buildDiscoveryApp({
      config: { INSTANCE_NAME: 'discovery-late', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'] },
      logger,
      metrics: createMetricsRegistry('discovery-late', { defaults: false }),
    });
    await app.listen({ host: '127.0.0.1', port });
    const instance = await startInProcessEcho('echo-late', address);
    try {
      const started = Date.now();
      const answer = await waitFor('a first answer', () => client.Echo({ text: 'now' }), { timeoutMs: 5_000 });
      expect(answer.instance).toBe('echo-late');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await transport.close();
      await instance.registration.stop();
      await instance.app.close();
      await app.close();
    }
  }, 20_000);
});
