import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import { systemClock, type Clock } from '../platform/clock.js';
import type { DiscoveryConfig } from './config.js';
import { ServiceRegistry } from './registry.js';
import { discoveryApiDocs } from './api-docs.js';
import { discoveryPatternNames, registerDiscoveryHandlers, registerPrometheusTargets, selfAddress } from './handlers.js';
import { createMetricsServer } from '../platform/metrics-server.js';
import { discoveryAudience, ServiceCredentials } from '../platform/service-auth.js';

export interface DiscoveryAppDeps {
  config: Pick<DiscoveryConfig, 'INSTANCE_NAME' | 'HOST' | 'LEASE_MS' | 'TICKET_TTL_MS' | 'CLUSTER_SECRET'>
    & Partial<Pick<DiscoveryConfig, 'DISCOVERY_PEERS' | 'SERVICE_NAMES' | 'REGISTRATION_HOSTS'>>;
  logger: Logger;
  metrics: Registry;
  clock?: Clock;
  /** How often lapsed leases are swept so evictions are logged and counted promptly (reads never depend on it). */
  sweepIntervalMs?: number;
}

export interface DiscoveryApp {
  app: FastifyInstance;
  /** /metrics and /prometheus/targets, for the internal metrics port (closed with `app`). */
  metricsApp: FastifyInstance;
  registry: ServiceRegistry;
}

/**
 * The discovery service: the registry (registry.ts) behind its HTTP endpoints (handlers.ts),
 * with metrics of what it holds and a sweep that evicts lapsed leases promptly.
 */
export function buildDiscoveryApp(deps: DiscoveryAppDeps): DiscoveryApp {
  const { config, logger, metrics } = deps;
  const clock = deps.clock ?? systemClock;
  const evictions = new Counter({ name: 'discovery_evictions_total', help: 'Instances evicted because their lease ran out', labelNames: ['service'], registers: [metrics] });
  const registry = new ServiceRegistry({
    leaseMs: config.LEASE_MS,
    ticketTtlMs: config.TICKET_TTL_MS,
    clock,
    onEvicted: (serviceName, host) => {
      evictions.inc({ service: serviceName });
      logger.warn({ serviceName, host }, 'lease expired; instance evicted');
    },
  });
  registryGauges(registry, metrics);

  const credentials = new ServiceCredentials({ clusterSecret: config.CLUSTER_SECRET, identity: { service: discoveryAudience, instance: config.INSTANCE_NAME }, clock });
  const app = createHttpServer({ logger, metrics, patternNames: discoveryPatternNames, apiDocs: discoveryApiDocs, healthCheck: () => ({ instance: config.INSTANCE_NAME, registryVersion: registry.version }) });
  // In a plugin, so it loads after the API document that collects its routes; its service-token
  // check covers its own routes (/health and /docs stay open).
  void app.register(async (scope) => registerDiscoveryHandlers(scope, { registry, config, logger, metrics, clock, credentials }));
  const metricsApp = createMetricsServer({ metrics });
  registerPrometheusTargets(metricsApp, { registry, self: () => selfAddress(metricsApp, config.HOST), peers: config.DISCOVERY_PEERS ?? [] });
  app.addHook('onClose', async () => metricsApp.close());

  const sweep = setInterval(() => registry.expire(), deps.sweepIntervalMs ?? 250);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  return { app, metricsApp, registry };
}

function registryGauges(registry: ServiceRegistry, metrics: Registry): void {
  new Gauge({
    name: 'discovery_registered_instances',
    help: 'Live instances per service',
    labelNames: ['service'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [service, instances] of Object.entries(registry.snapshot().services)) this.set({ service }, instances.length);
    },
  });
  new Gauge({ name: 'discovery_registry_version', help: 'Registry membership version', registers: [metrics], collect() { this.set(registry.version); } });
  new Gauge({ name: 'discovery_open_tickets', help: 'Connection tickets open', registers: [metrics], collect() { this.set(registry.openTickets()); } });
}
