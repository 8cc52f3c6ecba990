import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/log.js';
import { freePort } from '../../src/platform/ports.js';
import { createDiscoveryClient } from '../../src/platform/discovery/discovery-client.js';
import { createDiscoveryTransport } from '../../src/platform/rpc/discovery-transport.js';
import { createRpcClient } from '../../src/platform/rpc/client.js';
import { discoveryAudience, serviceAuthHeaders } from '../../src/platform/service-auth.js';
import { startDiscoveryReplica, startEchoInstance, type DiscoveryReplicaHandle, type ServiceProcessHandle } from '../support/service-processes.js';
import { buildEchoApp, echoService } from '../support/echo-service.js';
import { testCredentials } from '../support/credentials.js';

// Issue 12, item 3 (and 8 for discovery): anyone who could reach discovery could register an
// instance, under any name, and receive calls; a 1 MB name bloated discovery's /metrics. Here
// against a real discovery process, a real registered instance, and a rogue that does not hold
// the cluster secret.

const logger = createLogger({ name: 'security-discovery', level: 'silent' });
const rogueSecret = 'not-the-cluster-secret-0123456789abcdef';
let discovery: DiscoveryReplicaHandle;
let metricsPort: number;
let genuine: ServiceProcessHandle;
let rogueApp: ReturnType<typeof buildEchoApp>;
let rogueHost: string;

beforeAll(async () => {
  metricsPort = await freePort();
  discovery = await startDiscoveryReplica('discovery-sec', { metricsPort });
  genuine = await startEchoInstance([discovery.address], echoService.serviceName, 'echo-genuine');
  // A rogue echo server, serving the same contract but without the cluster's secret.
  rogueApp = buildEchoApp('echo-rogue', { secret: rogueSecret });
  rogueHost = `127.0.0.1:${(await rogueApp.listen({ host: '127.0.0.1', port: 0 }).then(() => rogueApp.server.address() as AddressInfo)).port}`;
}, 120_000);

afterAll(async () => {
  await genuine?.kill('SIGTERM');
  await rogueApp?.close();
  await discovery?.kill();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`http://${discovery.address}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const tokenOf = (service: string, secret?: string) => ({ [serviceAuthHeaders.service]: testCredentials(service, 'x', secret).tokenFor(discoveryAudience) });

async function registeredHosts(): Promise<string[]> {
  const response = await fetch(`http://${discovery.address}/services`, { headers: tokenOf('GATEWAY') });
  const body = (await response.json()) as { services: Record<string, Array<{ host: string }>> };
  return Object.values(body.services).flat().map((instance) => instance.host);
}

describe('registering in discovery', () => {
  it('is refused without a credential, with one from another secret, and for a name or host not allowed', async () => {
    const rogue = { serviceName: echoService.serviceName, host: rogueHost };
    expect((await post('/service', rogue)).status).toBe(401);
    expect((await post('/service', rogue, tokenOf(echoService.serviceName, rogueSecret))).status).toBe(401);
    // Heartbeats, reports and removals need the same: a rogue can neither keep nor remove an instance.
    expect((await post('/heartbeat', rogue)).status).toBe(401);
    expect((await post('/service/report', { serviceName: echoService.serviceName, host: genuine.host })).status).toBe(401);
    expect((await fetch(`http://${discovery.address}/service`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serviceName: echoService.serviceName, host: genuine.host }) })).status).toBe(401);
    // Even a holder of the secret registers only under its own name, from the allow-list, on an allowed host.
    expect((await post('/service', { serviceName: 'ROGUE SERVICE', host: rogueHost }, tokenOf('ROGUE SERVICE'))).status).toBe(403);
    expect((await post('/service', { serviceName: 'USER SERVICE', host: rogueHost }, tokenOf(echoService.serviceName))).status).toBe(403);
    expect((await post('/service', { serviceName: echoService.serviceName, host: '203.0.113.9:4000' }, tokenOf(echoService.serviceName))).status).toBe(403);
    const hosts = await registeredHosts();
    expect(hosts).toContain(genuine.host);
    expect(hosts).not.toContain(rogueHost);
  });

  it('leaves the rogue without calls: every call reaches the genuine instance', async () => {
    const transport = createDiscoveryTransport({ credentials: testCredentials(), discovery: [discovery.address], mode: 'snapshot', logger });
    try {
      const client = createRpcClient(echoService, transport);
      const served = new Set<string>();
      for (let i = 0; i < 20; i++) served.add((await client.Echo({ text: 'hi' })).instance);
      expect([...served]).toEqual(['echo-genuine']);
    } finally {
      await transport.close();
    }
  });

  it("keeps discovery's /metrics small and free of caller-chosen names, and off its API port", async () => {
    const huge = 'N'.repeat(1024 * 1024);
    expect((await post('/service', { serviceName: huge.slice(0, 64 * 1024), host: rogueHost })).status).toBe(401);
    const withToken = await post('/service', { serviceName: huge, host: rogueHost }, tokenOf(echoService.serviceName));
    expect([400, 413]).toContain(withToken.status);
    await fetch(`http://${discovery.address}/service?serviceName=${'N'.repeat(4_000)}`, { headers: tokenOf('GATEWAY') });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain('discovery_registered_instances');
    expect(metrics).not.toContain('NNNN');
    expect(metrics.length).toBeLessThan(100_000);
    expect((await fetch(`http://${discovery.address}/metrics`)).status).not.toBe(200);
  });
});

describe("discovery's answers", () => {
  let fake: Server;
  let fakeAddress: string;
  beforeAll(async () => {
    // A process answering on a discovery address with a registry that points callers at itself.
    fake = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ version: 1, leaseMs: 5000, uptimeMs: 60_000, services: { [echoService.serviceName]: [{ host: rogueHost }] } }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeAddress = `127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => fake.close(() => resolve())));

  it('are trusted only when signed by the cluster: a fake discovery is not believed', async () => {
    const fooled = createDiscoveryClient({ discovery: [fakeAddress], logger, credentials: testCredentials() });
    const real = createDiscoveryClient({ discovery: [discovery.address], logger, credentials: testCredentials() });
    try {
      await expect(fooled.snapshot()).rejects.toThrow();
      expect((await real.snapshot()).services[echoService.serviceName]?.map((i) => i.host)).toEqual([genuine.host]);
    } finally {
      await Promise.all([fooled.close(), real.close()]);
    }
  });
});
