import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterLayout } from './layout.js';
import type { LauncherConfig } from './config.js';
import { repoRoot } from './paths.js';
import { freePort } from '../platform/ports.js';
import { dataNodeInstances, postgresHaSpecs, serviceDatabaseUrl } from './postgres-ha.js';
import { exportersWanted, exporterTargets, postgresExporterSpecs, redisExporterSpecs } from './exporters.js';
import { prometheusSpec, prometheusWanted } from './prometheus.js';
import { httpOk, redisAnswers } from './readiness.js';
import type { Component, ProcessSpec } from './spec.js';
import { loadOrCreateSecrets, type ClusterSecrets } from './secrets.js';

export const domainServices = ['users', 'images', 'recommendations'] as const;
export type DomainService = (typeof domainServices)[number];

/**
 * "cache-1=127.0.0.1:6380,..." as REDIS_NODES takes it. The ring names ("cache-N", as in the
 * services' defaults) decide key placement; process redis-N is ring node cache-N.
 */
export function redisNodesSpec(layout: ClusterLayout): string {
  return layout.redis.ports.map((port, i) => `cache-${i + 1}=${layout.host}:${port}`).join(',');
}

export function discoveryAddresses(layout: ClusterLayout): string {
  return layout.discovery.ports.map((p) => `${layout.host}:${p}`).join(',');
}

export function redisSpecs(layout: ClusterLayout): ProcessSpec[] {
  return layout.redis.ports.map((port, i) => ({
    instance: `redis-${i + 1}`,
    kind: 'redis',
    component: 'redis',
    host: layout.host,
    port,
    after: [],
    url: `redis://${layout.host}:${port}`,
    // A cache: no persistence, nothing written to disk.
    launch: async () => ({
      command: 'redis-server',
      args: [
        '--port', String(port), '--bind', layout.host, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning', '--dir', '/tmp',
        '--maxmemory', `${layout.redis.maxMemoryMb}mb`, '--maxmemory-policy', 'allkeys-lru',
      ],
    }),
    ready: () => redisAnswers(layout.host, port),
    readyTimeoutMs: () => layout.timeouts.startMs,
  }));
}

/** The compiled entry point of an Easel process. */
export function serviceEntry(service: string): string {
  return join(repoRoot(), 'dist', 'src', service, 'main.js');
}

/** Internal metrics ports (METRICS_PORT) of the processes Prometheus finds statically: discovery's and the gateway's. */
export interface MetricsPorts {
  discovery: number[];
  gateway: number;
}

export async function pickMetricsPorts(layout: ClusterLayout): Promise<MetricsPorts> {
  const discovery: number[] = [];
  for (let i = 0; i < layout.discovery.ports.length; i++) discovery.push(await freePort(layout.host));
  return { discovery, gateway: await freePort(layout.host) };
}

function nodeService(layout: ClusterLayout, kind: 'discovery' | DomainService | 'gateway', instance: string, port: number, after: string[], env: Record<string, string>): ProcessSpec {
  const base = `http://${layout.host}:${port}`;
  const metricsPort = Number(env.METRICS_PORT);
  return {
    ...(metricsPort > 0 ? { metricsPort } : {}),
    instance,
    kind,
    component: 'services',
    host: layout.host,
    port,
    after,
    url: base,
    launch: async () => {
      const entry = serviceEntry(kind);
      if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" first`);
      return {
        command: process.execPath,
        args: ['--enable-source-maps', entry],
        cwd: repoRoot(),
        env: { ...layout.serviceEnv, INSTANCE_NAME: instance, HOST: layout.host, PORT: String(port), LOG_LEVEL: layout.logLevel, ...env },
      };
    },
    ready: () => httpOk(`${base}/health`),
    readyTimeoutMs: () => layout.timeouts.startMs,
  };
}

/**
 * Every process of the cluster in dependency order: Redis, PostgreSQL HA, their exporters and
 * Prometheus first, then discovery, the domain services, and the gateway last. Domain services get free ports.
 */
export async function buildProcessSpecs(layout: ClusterLayout, config: LauncherConfig, components: readonly Component[] = ['redis', 'postgres', 'prometheus', 'services'], secrets: ClusterSecrets = loadOrCreateSecrets(layout.dataDir)): Promise<ProcessSpec[]> {
  const specs: ProcessSpec[] = [];
  const want = (c: Component) => components.includes(c);
  const metricsPorts = await pickMetricsPorts(layout);
  if (want('redis')) specs.push(...redisSpecs(layout));
  if (want('postgres')) specs.push(...postgresHaSpecs(layout, config));
  if (want('prometheus') && exportersWanted(layout)) {
    if (want('postgres')) specs.push(...postgresExporterSpecs(layout));
    if (want('redis')) specs.push(...redisExporterSpecs(layout));
  }
  if (want('prometheus') && prometheusWanted(layout)) specs.push(prometheusSpec(layout, exporterTargets(specs), metricsPorts));
  if (!want('services')) return specs;

  const discoveryNames = layout.discovery.ports.map((_, i) => `discovery-${i + 1}`);
  // Every Easel process proves itself with credentials derived from the cluster secret.
  const clusterSecret = secrets['cluster-secret'];
  layout.discovery.ports.forEach((port, i) => {
    // Peers are listed as Prometheus targets: their metrics addresses.
    const peers = metricsPorts.discovery.filter((_, j) => j !== i).map((p) => `${layout.host}:${p}`).join(',');
    specs.push(nodeService(layout, 'discovery', discoveryNames[i]!, port, [], {
      CLUSTER_SECRET: clusterSecret, METRICS_PORT: String(metricsPorts.discovery[i]), ...(peers ? { DISCOVERY_PEERS: peers } : {}),
    }));
  });
  const redisNames = want('redis') ? layout.redis.ports.map((_, i) => `redis-${i + 1}`) : [];
  const postgresReady = want('postgres') ? [...dataNodeInstances] : [];
  const shared = { DISCOVERY_ADDRESSES: discoveryAddresses(layout), REDIS_NODES: redisNodesSpec(layout), CLUSTER_SECRET: clusterSecret };
  for (const service of domainServices) {
    for (let i = 1; i <= layout.services[service]; i++) {
      const instance = `${service}-${i}`;
      const port = await freePort(layout.host);
      specs.push(nodeService(layout, service, instance, port, [...discoveryNames, ...redisNames, ...postgresReady], {
        ...shared,
        DATABASE_URL: serviceDatabaseUrl(layout, service),
        ...(service === 'images' ? { UPLOAD_TRANSACTION: layout.uploadTransaction } : {}),
        // Registered with discovery, which lists it as this instance's Prometheus target.
        METRICS_PORT: String(await freePort(layout.host)),
      }));
    }
  }
  const gatewayEnv: Record<string, string> = { ...shared, METRICS_PORT: String(metricsPorts.gateway) };
  if (layout.gateway.workers !== undefined) gatewayEnv.GATEWAY_WORKERS = String(layout.gateway.workers);
  // The gateway finds the domain services through discovery (and retries), so it need not wait for them.
  specs.push(nodeService(layout, 'gateway', 'gateway-1', layout.gateway.port, [...discoveryNames, ...redisNames], gatewayEnv));
  return specs;
}
