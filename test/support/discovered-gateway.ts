import type { FastifyInstance } from 'fastify';
import { buildDiscoveryApp } from '../../src/discovery/app.js';
import { loadDiscoveryConfig } from '../../src/discovery/config.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import { gatewayConfigSchema } from '../../src/gateway/config.js';
import type { SharedState } from '../../src/gateway/shared-state.js';
import { gatewayServiceName } from '../../src/contracts/access.js';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { createRpcClient } from '../../src/platform/rpc/client.js';
import { createDiscoveryTransport, type DiscoveryTransport, type DiscoveryTransportSettings } from '../../src/platform/rpc/discovery-transport.js';
import { startRegistration, type Registration } from '../../src/platform/discovery/registration.js';
import { ServiceCredentials } from '../../src/platform/service-auth.js';

// A discovery replica and a gateway built in-process (their exported builders, port 0), the
// gateway finding every service through discovery as main.ts wires it: balanced over the
// registered instances, with a circuit breaker per instance. Tests register the instances they
// want the gateway to reach (real services built by the test, or rogues).

const logger = createLogger({ name: 'discovered', level: 'silent' });

export interface DiscoveredGateway {
  url: string;
  discoveryAddress: string;
  /** The gateway's own RPC transport (its breakers, the instances it knows). */
  transport: DiscoveryTransport;
  /** Registers `url` (an http://host:port origin) as an instance of `serviceName`, with that service's credential; resolves once discovery holds it and the gateway knows it. */
  register(serviceName: string, url: string): Promise<Registration>;
  stop(): Promise<void>;
}

export interface DiscoveredGatewayOptions {
  clusterSecret: string;
  sharedState: SharedState;
  /** Instances registered before the gateway starts: [service name, http://host:port]. */
  instances?: ReadonlyArray<readonly [string, string]>;
  /** Extra gateway environment. */
  env?: Record<string, string>;
  /** Extra settings of the gateway's transport, e.g. its breaker. */
  transport?: Partial<Pick<DiscoveryTransportSettings, 'breaker' | 'perTryTimeoutMs' | 'reportTrippedInstances'>>;
}

export async function startDiscoveredGateway(options: DiscoveredGatewayOptions): Promise<DiscoveredGateway> {
  const { clusterSecret } = options;
  const apps: FastifyInstance[] = [];
  const registrations: Registration[] = [];
  let transport: DiscoveryTransport | undefined;
  const stop = async () => {
    await Promise.allSettled(registrations.map((registration) => registration.stop()));
    for (const app of [...apps].reverse()) await app.close().catch(() => undefined);
    await transport?.close();
  };
  try {
    // A long lease: neither a busy machine nor a test that moves Date.now forward evicts an instance between two heartbeats.
    const discovery = buildDiscoveryApp({ config: loadDiscoveryConfig({ PORT: '0', LEASE_MS: '600000', CLUSTER_SECRET: clusterSecret }), logger, metrics: createMetricsRegistry('discovery', { defaults: false }) }).app;
    apps.push(discovery);
    const discoveryAddress = (await discovery.listen({ host: '127.0.0.1', port: 0 })).replace('http://', '');
    const register = async (serviceName: string, instanceUrl: string) => {
      const host = new URL(instanceUrl).host;
      const registration = startRegistration({
        discovery: [discoveryAddress], serviceName, host, logger,
        credentials: new ServiceCredentials({ clusterSecret, identity: { service: serviceName, instance: host } }),
      });
      registrations.push(registration);
      await registration.ready();
      // The gateway sees it at once, not at its next refresh.
      await transport?.refresh();
      return registration;
    };
    // Registered before the gateway starts, so that its first look for the users service's keys finds them.
    for (const [serviceName, instanceUrl] of options.instances ?? []) await register(serviceName, instanceUrl);
    transport = createDiscoveryTransport({
      credentials: new ServiceCredentials({ clusterSecret, identity: { service: gatewayServiceName, instance: 'gateway-1' } }),
      discovery: [discoveryAddress], mode: 'snapshot', logger, refreshMs: 200, ...options.transport,
    });
    await transport.refresh();
    const gateway = await buildGatewayApp({
      config: loadConfig(gatewayConfigSchema, { INSTANCE_NAME: 'gateway-1', GATEWAY_WORKERS: '1', CLUSTER_SECRET: clusterSecret, ...options.env }),
      logger,
      metrics: createMetricsRegistry('gateway', { defaults: false }),
      users: createRpcClient(usersContract, transport),
      images: createRpcClient(imagesContract, transport),
      recommendations: createRpcClient(recommendationsContract, transport),
      sharedState: options.sharedState,
    });
    apps.push(gateway);
    const url = await gateway.listen({ host: '127.0.0.1', port: 0 });
    return { url, discoveryAddress, transport, register, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
