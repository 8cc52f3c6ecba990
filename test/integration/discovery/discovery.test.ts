import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildDiscoveryApp } from '../../../src/discovery/app.js';
import { startEchoInstance, type ServiceProcessHandle } from '../../support/service-processes.js';

// Real HTTP on a free port. The "original client" below is written from the design document
// alone: JSON bodies on every endpoint, including GET /service.

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function originalClient(port: number) {
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<Answer>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return {
    getService: (serviceName: string) => call('GET', '/service', { serviceName }),
    closeTicket: (connTicket: unknown) => call('POST', '/ticket', { connTicket }),
    addService: (serviceName: string, host: string) => call('POST', '/service', { serviceName, host }),
    removeService: (serviceName: string, host: string) => call('DELETE', '/service', { serviceName, host }),
    services: () => call('GET', '/services'),
  };
}

async function startDiscovery(options: { leaseMs?: number; ticketTtlMs?: number } = {}) {
  const { app, registry } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-it', HOST: '127.0.0.1', LEASE_MS: options.leaseMs ?? 5_000, TICKET_TTL_MS: options.ticketTtlMs ?? 30_000 },
    logger: createLogger({ name: 'discovery-it', level: 'silent' }),
    metrics: createMetricsRegistry('discovery-it', { defaults: false }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, registry, port, client: originalClient(port) };
}

describe('discovery, spoken to as the original document describes', () => {
  let discovery: Awaited<ReturnType<typeof startDiscovery>>;
  beforeAll(async () => {
    discovery = await startDiscovery({ ticketTtlMs: 600 });
  });
  afterAll(async () => {
    await discovery.app.close();
  });

  it('registers USER SERVICE, hands out its host with a ticket, closes the ticket, removes the service, then fails in the original shape', async () => {
    const { client } = discovery;
    expect(await client.addService('USER SERVICE', 'localhost:3799')).toEqual({ status: 200, body: { message: 'success', error: '' } });

    const lookup = await client.getService('USER SERVICE');
    expect(lookup.status).toBe(200);
    expect(lookup.body).toEqual({ host: 'localhost:3799', connTicket: expect.stringMatching(/^\w+$/) });

    expect(await client.closeTicket(lookup.body.connTicket)).toEqual({ status: 200, body: { message: 'success', error: '' } });
    const again = await client.closeTicket(lookup.body.connTicket);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ message: 'failure', error: expect.any(String) });

    expect(await client.removeService('USER SERVICE', 'localhost:3799')).toEqual({ status: 200, body: { message: 'success', error: '' } });

    const gone = await client.getService('USER SERVICE');
    expect(gone.status).toBe(503);
    expect(gone.body).toEqual({ message: 'failure', error: 'no live instance of USER SERVICE', code: 'UNAVAILABLE' });
  });

  it('with tickets held on three instances, picks the one with the fewest; leaked tickets expire', async () => {
    const { client } = discovery;
    const hosts = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
    for (const host of hosts) await client.addService('IMAGE SERVICE', host);

    // Six look-ups, none closed: the ties rotate, two tickets land on each instance.
    const held: Array<{ host: string; connTicket: string }> = [];
    for (let i = 0; i < 6; i++) held.push((await client.getService('IMAGE SERVICE')).body as { host: string; connTicket: string });
    const perHost = (host: string) => held.filter((t) => t.host === host);
    expect(hosts.map((h) => perHost(h).length)).toEqual([2, 2, 2]);

    // The second instance finishes its calls: it now has the fewest, so it is picked (twice).
    for (const ticket of perHost(hosts[1]!)) await client.closeTicket(ticket.connTicket);
    const next = [(await client.getService('IMAGE SERVICE')).body.host, (await client.getService('IMAGE SERVICE')).body.host];
    expect(next).toEqual([hosts[1], hosts[1]]);

    // Nobody closes the remaining eight tickets: after the TTL they are gone on their own.
    await new Promise((r) => setTimeout(r, 700));
    const snapshot = (await client.services()).body as { services: Record<string, Array<{ host: string; openTickets: number }>> };
    expect(snapshot.services['IMAGE SERVICE']!.map((i) => i.openTickets)).toEqual([0, 0, 0]);
    for (const host of hosts) await client.removeService('IMAGE SERVICE', host);
  });
});

describe('a real service process', () => {
  let discovery: Awaited<ReturnType<typeof startDiscovery>>;
  let service: ServiceProcessHandle | undefined;
  beforeAll(async () => {
    discovery = await startDiscovery({ leaseMs: 5_000 });
  });
  afterEach(async () => {
    await service?.kill();
    service = undefined;
  });
  afterAll(async () => {
    await discovery.app.close();
  });

  const hostsOf = async (serviceName: string) => {
    const body = (await discovery.client.services()).body as { services: Record<string, Array<{ host: string }>> };
    return (body.services[serviceName] ?? []).map((i) => i.host);
  };

  async function waitUntilListed(serviceName: string, host: string) {
    const until = Date.now() + 10_000;
    while (!(await hostsOf(serviceName)).includes(host)) {
      if (Date.now() > until) throw new Error(`${host} never registered`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('is evicted within lease + 1 s of being SIGKILLed, and not before its lease could lapse', async () => {
    service = await startEchoInstance([`127.0.0.1:${discovery.port}`], 'USER SERVICE', 'users-kill');
    await waitUntilListed('USER SERVICE', service.host);
    // Let a few heartbeats pass so the eviction is from a lease, not a fresh registration.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await hostsOf('USER SERVICE')).toContain(service.host);

    await service.kill('SIGKILL');
    const killedAt = Date.now();
    while ((await hostsOf('USER SERVICE')).includes(service.host)) {
      expect(Date.now() - killedAt).toBeLessThanOrEqual(6_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const evictedAfter = Date.now() - killedAt;
    // The last heartbeat was at most ~1 s before the kill, so the lease ran for at least ~4 s after it.
    expect(evictedAfter).toBeGreaterThanOrEqual(3_800);
    expect(evictedAfter).toBeLessThanOrEqual(6_000);
  }, 30_000);

  it('deregisters at once on SIGTERM', async () => {
    service = await startEchoInstance([`127.0.0.1:${discovery.port}`], 'USER SERVICE', 'users-term');
    await waitUntilListed('USER SERVICE', service.host);
    const host = service.host;
    await service.kill('SIGTERM');
    expect(await hostsOf('USER SERVICE')).not.toContain(host);
  }, 30_000);
});
