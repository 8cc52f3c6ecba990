import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/platform/log.js';
import { sleep, waitFor } from '../../../../src/platform/wait.js';
import { createRpcClient, type RpcClient } from '../../../../src/platform/rpc/client.js';
import { createDiscoveryTransport, type DiscoveryTransport } from '../../../../src/platform/rpc/discovery-transport.js';
import { buildEchoApp, echoService } from '../../../support/echo-service.js';
import { startRegistration, type Registration } from '../../../../src/platform/discovery/registration.js';
import { startDiscoveryReplica, type DiscoveryReplicaHandle } from '../../../support/service-processes.js';
import { discoveryAudience, serviceAuthHeaders } from '../../../../src/platform/service-auth.js';
import { testCredentials } from '../../../support/credentials.js';

// Two real discovery replicas (child processes we SIGKILL and restart), echo service instances
// that register with both, and RPC clients in both balancing modes.

const logger = createLogger({ name: 'rpc-it', level: 'silent' });

interface EchoInstance {
  name: string;
  host: string;
  app: FastifyInstance;
  registration: Registration;
}

async function startInstance(name: string, discovery: readonly string[]): Promise<EchoInstance> {
  const app = buildEchoApp(name);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const host = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const registration = startRegistration({ discovery, serviceName: echoService.serviceName, host, logger, credentials: testCredentials(echoService.serviceName) });
  return { name, host, app, registration };
}

async function listedOn(replica: string, serviceName: string): Promise<string[]> {
  const response = await fetch(`http://${replica}/services`, { headers: { [serviceAuthHeaders.service]: testCredentials().tokenFor(discoveryAudience) } });
  const body = (await response.json()) as { services: Record<string, Array<{ host: string }>> };
  return (body.services[serviceName] ?? []).map((i) => i.host).sort();
}

/** Waits until `check` holds; returns how long that took. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(what, check, { timeoutMs });
  return Date.now() - started;
}

describe('RPC through discovery', () => {
  let replicas: DiscoveryReplicaHandle[] = [];
  let discovery: string[] = [];
  const instances: EchoInstance[] = [];
  const transports: DiscoveryTransport[] = [];
  let snapshotClient: RpcClient<typeof echoService.methods>;
  let ticketClient: RpcClient<typeof echoService.methods>;

  beforeAll(async () => {
    replicas = await Promise.all([startDiscoveryReplica('discovery-a'), startDiscoveryReplica('discovery-b')]);
    discovery = replicas.map((r) => r.address);
    instances.push(await startInstance('echo-1', discovery), await startInstance('echo-2', discovery));
    const both = instances.map((i) => i.host).sort();
    await eventually('both instances on both replicas', async () => {
      const lists = await Promise.all(discovery.map((r) => listedOn(r, echoService.serviceName)));
      return lists.every((l) => JSON.stringify(l) === JSON.stringify(both));
    }, 5_000);
    // Generous per-try timeout: client and instances share this test's event loop on a busy machine.
    for (const mode of ['snapshot', 'ticket'] as const) transports.push(createDiscoveryTransport({ credentials: testCredentials(), discovery, mode, logger, perTryTimeoutMs: 5_000 }));
    snapshotClient = createRpcClient(echoService, transports[0]!);
    ticketClient = createRpcClient(echoService, transports[1]!);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(transports.map((t) => t.close()));
    await Promise.allSettled(instances.map(async (i) => {
      await i.registration.stop();
      await i.app.close();
    }));
    await Promise.allSettled(replicas.map((r) => r.kill()));
  });

  async function callMany(client: RpcClient<typeof echoService.methods>, count: number): Promise<Map<string, number>> {
    const served = new Map<string, number>();
    // 20 callers at a time, so calls overlap (and balancing matters) without swamping the loop.
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < count) {
        const i = next++;
        const answer = await client.Echo({ text: `call ${i}` });
        expect(answer.text).toBe(`call ${i}`);
        served.set(answer.instance, (served.get(answer.instance) ?? 0) + 1);
      }
    }));
    return served;
  }

  it('spreads calls over both instances in snapshot and in ticket mode', async () => {
    for (const client of [snapshotClient, ticketClient]) {
      const served = await callMany(client, 200);
      expect([...served.keys()].sort()).toEqual(['echo-1', 'echo-2']);
      expect(Math.min(...served.values())).toBeGreaterThan(40);
    }
  });

  it('goes on with registration, look-ups and traffic while one discovery replica is dead', async () => {
    await replicas[0]!.kill();
    // A new instance still registers (with the surviving replica) and gets traffic.
    const late = await startInstance('echo-3', discovery);
    instances.push(late);
    await eventually('echo-3 listed on the surviving replica', async () => (await listedOn(discovery[1]!, echoService.serviceName)).includes(late.host), 3_000);
    await eventually('echo-3 in the snapshot', async () => transports[0]!.instancesOf(echoService.serviceName).includes(late.host), 3_000);

    // The original's look-up works on the surviving replica (ticket mode uses it for every call).
    const lookup = await fetch(`http://${discovery[1]}/service?serviceName=${encodeURIComponent(echoService.serviceName)}`, { headers: { [serviceAuthHeaders.service]: testCredentials().tokenFor(discoveryAudience) } });
    expect(lookup.status).toBe(200);
    for (const client of [snapshotClient, ticketClient]) {
      const served = await callMany(client, 300);
      expect([...served.keys()].sort()).toEqual(['echo-1', 'echo-2', 'echo-3']);
    }

    // The replica returns empty-handed and is refilled by heartbeats within about a second.
    await replicas[0]!.restart();
    const all = instances.map((i) => i.host).sort();
    await eventually('restarted replica knows every instance again', async () => JSON.stringify(await listedOn(discovery[0]!, echoService.serviceName)) === JSON.stringify(all), 3_000);
  }, 30_000);

  it('keeps calls succeeding on the last snapshot for 30 s with both replicas dead, and registrations recover after', async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    const outageStarted = Date.now();
    const served = new Map<string, number>();
    let calls = 0;
    while (Date.now() - outageStarted < 30_000) {
      const answers = await Promise.all([snapshotClient.Echo({ text: 'during outage' }), ticketClient.Echo({ text: 'during outage' })]);
      for (const answer of answers) served.set(answer.instance, (served.get(answer.instance) ?? 0) + 1);
      calls += 2;
      await sleep(50);
    }
    expect(calls).toBeGreaterThan(200);
    // Still balanced over every instance it knew, not stuck on one.
    expect([...served.keys()].sort()).toEqual(instances.map((i) => i.name).sort());

    await Promise.all(replicas.map((r) => r.restart()));
    const all = instances.map((i) => i.host).sort();
    const recoveredIn = await eventually('both replicas know every instance again', async () => {
      const lists = await Promise.all(discovery.map((r) => listedOn(r, echoService.serviceName)));
      return lists.every((l) => JSON.stringify(l) === JSON.stringify(all));
    }, 5_000);
    expect(recoveredIn).toBeLessThan(3_000);
    // Ticket mode is back on discovery's own balancing.
    expect((await callMany(ticketClient, 30)).size).toBe(instances.length);
  }, 45_000);

  it('moves a call to another instance when one stops answering before discovery notices', async () => {
    const victim = instances[0]!;
    await victim.app.close(); // connections refused, still registered until its lease lapses
    for (const client of [snapshotClient, ticketClient]) {
      const served = await callMany(client, 100);
      expect(served.has(victim.name)).toBe(false);
    }
    await victim.registration.stop();
  });
});
