import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildDiscoveryApp } from '../../src/discovery/app.js';
import { loadDiscoveryConfig } from '../../src/discovery/config.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { inMemorySharedState } from '../fakes/shared-state.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { createRpcClient } from '../../src/platform/rpc/client.js';
import { createDiscoveryTransport, type DiscoveryTransport } from '../../src/platform/rpc/discovery-transport.js';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { discoveryAudience, serviceAuthHeaders } from '../../src/platform/service-auth.js';
import { testClusterSecret, testCredentials } from '../support/credentials.js';

// The gateway when no instance can serve: a clear 503 with Retry-After in the documented shape,
// and never a request held past its deadline, even by an instance that accepts and never answers.

const logger = createLogger({ name: 'test', level: 'silent' });
let discovery: FastifyInstance;
let discoveryAddress: string;
let gateway: FastifyInstance;
let transport: DiscoveryTransport;
let hung: Server;
const hungSockets: Socket[] = [];

beforeAll(async () => {
  discovery = buildDiscoveryApp({ config: loadDiscoveryConfig({ PORT: '0', LEASE_MS: '60000', CLUSTER_SECRET: testClusterSecret }), logger, metrics: createMetricsRegistry('discovery', { defaults: false }) }).app;
  discoveryAddress = (await discovery.listen({ host: '127.0.0.1', port: 0 })).replace('http://', '');
  transport = createDiscoveryTransport({ credentials: testCredentials(), discovery: [discoveryAddress], mode: 'snapshot', logger, perTryTimeoutMs: 400, refreshMs: 100 });
  gateway = await buildGatewayApp({
    config: loadGatewayConfig({ GATEWAY_WORKERS: '1', CLUSTER_SECRET: testClusterSecret }),
    logger,
    metrics: createMetricsRegistry('gateway', { defaults: false }),
    users: createRpcClient(usersContract, transport),
    images: createRpcClient(imagesContract, transport),
    recommendations: createRpcClient(recommendationsContract, transport),
    sharedState: inMemorySharedState(),
  });
  // Accepts connections and never answers: a hung replica.
  hung = createServer((socket) => hungSockets.push(socket));
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const socket of hungSockets) socket.destroy();
  hung?.close();
  await gateway?.close();
  await transport?.close();
  await discovery?.close();
});

describe('gateway with no instance to serve', () => {
  it('answers 503 with Retry-After in the documented shape', async () => {
    const response = await gateway.inject({ url: '/tags' });
    expect(response.statusCode).toBe(503);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    expect(response.json()).toMatchObject({ message: 'failure', code: 'UNAVAILABLE' });
    expect(response.body).not.toContain(discoveryAddress);
  });

  it('does not hold a request past its deadline when the only instance hangs', async () => {
    const address = hung.address() as { port: number };
    const registered = await fetch(`http://${discoveryAddress}/service`, {
      method: 'POST', headers: { 'content-type': 'application/json', [serviceAuthHeaders.service]: testCredentials(recommendationsContract.serviceName).tokenFor(discoveryAudience) },
      body: JSON.stringify({ serviceName: recommendationsContract.serviceName, host: `127.0.0.1:${address.port}` }),
    });
    expect(registered.status).toBe(200);
    await transport.refresh();
    expect(transport.instancesOf(recommendationsContract.serviceName)).toHaveLength(1);
    const started = Date.now();
    const response = await gateway.inject({ url: '/tags' });
    const elapsed = Date.now() - started;
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ message: 'failure' });
    // The call's budget is the default 5 s; tries of 400 ms each fit well inside it.
    expect(elapsed).toBeLessThan(5_500);
  });
});
