import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildDiscoveryApp } from '../../../src/discovery/app.js';
import { discoveryAudience, serviceAuthHeaders } from '../../../src/platform/service-auth.js';
import { waitFor } from '../../../src/platform/wait.js';
import { startEchoInstance, type ServiceProcessHandle } from '../../support/service-processes.js';
import { manualClock } from '../../fakes/manual-clock.js';
import { testClusterSecret, testCredentials } from '../../support/credentials.js';

// Real HTTP on a free port, with a discovery clock the test moves: leases and tickets run out
// when the test says, never because a slow machine let a wall-clock window pass. The "original
// client" below is written from the original contract alone (docs/departures.md): JSON bodies on every
// endpoint, including GET /service.

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function originalClient(port: number) {
  // Every request carries a service token (the original had none): `as` names the service it speaks for.
  const call = (method: string, path: string, body?: unknown, as = 'USER SERVICE') =>
    new Promise<Answer>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path, headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), [serviceAuthHeaders.service]: testCredentials(as).tokenFor(discoveryAudience) } },
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
    addService: (serviceName: string, host: string) => call('POST', '/service', { serviceName, host }, serviceName),
    removeService: (serviceName: string, host: string) => call('DELETE', '/service', { serviceName, host }, serviceName),
    services: () => call('GET', '/services'),
  };
}

async function startDiscovery(options: { leaseMs?: number; ticketTtlMs?: number } = {}) {
  const clock = manualClock(Date.now());
  const { app, registry } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-it', HOST: '127.0.0.1', LEASE_MS: options.leaseMs ?? 5_000, TICKET_TTL_MS: options.ticketTtlMs ?? 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'] },
    logger: createLogger({ name: 'discovery-it', level: 'silent' }),
    metrics: createMetricsRegistry('discovery-it', { defaults: false }),
    clock,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, registry, clock, port, client: originalClient(port) };
}

describe('discovery, spoken to as the original contract describes', () => {
  let discovery: Awaited<ReturnType<typeof startDiscovery>>;
  beforeAll(async () => {
    // A lease far longer than the ticket TTL, so the tickets below lapse while their instances live.
    discovery = await startDiscovery({ leaseMs: 60_000, ticketTtlMs: 10_000 });
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
    const { client, clock } = discovery;
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

    // Nobody closes the remaining six tickets: at the TTL, and not a millisecond earlier, they
    // are gone on their own while the instances stay listed.
    const openTickets = async () => {
      const body = (await client.services()).body as { services: Record<string, Array<{ host: string; openTickets: number }>> };
      return Object.fromEntries(body.services['IMAGE SERVICE']!.map((i) => [i.host, i.openTickets]));
    };
    clock.advance(9_999);
    expect(await openTickets()).toEqual({ [hosts[0]!]: 2, [hosts[1]!]: 2, [hosts[2]!]: 2 });
    clock.advance(1);
    expect(await openTickets()).toEqual({ [hosts[0]!]: 0, [hosts[1]!]: 0, [hosts[2]!]: 0 });
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

  const listed = async (serviceName: string) => {
    const body = (await discovery.client.services()).body as { services: Record<string, Array<{ host: string; lastHeartbeat: number }>> };
    return body.services[serviceName] ?? [];
  };
  const hostsOf = async (serviceName: string) => (await listed(serviceName)).map((i) => i.host);
  const lastHeartbeatOf = async (serviceName: string, host: string) => (await listed(serviceName)).find((i) => i.host === host)?.lastHeartbeat;

  async function waitUntilListed(serviceName: string, host: string) {
    await waitFor(`${host} to register`, async () => (await hostsOf(serviceName)).includes(host), { timeoutMs: 10_000 });
  }

  it('stays listed through many leases while it heartbeats; SIGKILLed, it is evicted exactly one lease after its last heartbeat', async () => {
    const leaseMs = 5_000;
    const { clock } = discovery;
    service = await startEchoInstance([`127.0.0.1:${discovery.port}`], 'USER SERVICE', 'users-kill');
    const host = service.host;
    await waitUntilListed('USER SERVICE', host);
    // Each round, nearly a whole lease passes on discovery's clock; only the process's real
    // heartbeats (one a second) keep it listed.
    for (let round = 0; round < 3; round++) {
      const before = (await lastHeartbeatOf('USER SERVICE', host))!;
      clock.advance(leaseMs - 1);
      await waitFor('a heartbeat', async () => ((await lastHeartbeatOf('USER SERVICE', host)) ?? 0) > before, { timeoutMs: 5_000 });
    }
    expect(await hostsOf('USER SERVICE')).toContain(host);

    await service.kill('SIGKILL');
    const lastHeartbeat = (await lastHeartbeatOf('USER SERVICE', host))!;
    clock.advance(lastHeartbeat + leaseMs - 1 - clock.now());
    expect(await hostsOf('USER SERVICE')).toContain(host);
    clock.advance(1);
    expect(await hostsOf('USER SERVICE')).not.toContain(host);
  }, 30_000);

  it('deregisters at once on SIGTERM', async () => {
    service = await startEchoInstance([`127.0.0.1:${discovery.port}`], 'USER SERVICE', 'users-term');
    await waitUntilListed('USER SERVICE', service.host);
    const host = service.host;
    await service.kill('SIGTERM');
    expect(await hostsOf('USER SERVICE')).not.toContain(host);
  }, 30_000);
});
