import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ClusterLayout } from './layout.js';
import type { LauncherConfig } from './config.js';
import { repoRoot } from './paths.js';
import { freePort } from '../platform/ports.js';
import { dataNodeInstances, postgresHaSpecs, serviceDatabaseUrl, servicePassword } from './postgres-ha.js';
import { loadOrCreateSecrets, type ClusterSecrets } from './secrets.js';
import { redisServerConfig, serviceRedisUser } from './redis-config.js';
import { writePrivateFile } from './postgres.js';
import { exportersWanted, exporterTargets, postgresExporterSpecs, redisExporterSpecs } from './exporters.js';
import { prometheusSpec, prometheusWanted } from './prometheus.js';
import { httpOk, redisAnswers } from './readiness.js';
import type { Component, ProcessSpec } from './spec.js';

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

export function redisSpecs(layout: ClusterLayout, secrets: ClusterSecrets): ProcessSpec[] {
  return layout.redis.ports.map((port, i) => {
    const instance = `redis-${i + 1}`;
    // Its configuration file holds the ACL users (passwords as SHA-256 only), private to us.
    const configFile = join(layout.dataDir, 'redis', `${instance}.conf`);
    return {
      instance,
      kind: 'redis',
      component: 'redis',
      host: layout.host,
      port,
      after: [],
      url: `redis://${layout.host}:${port}`,
      launch: async () => {
        mkdirSync(dirname(configFile), { recursive: true, mode: 0o700 });
        writePrivateFile(configFile, redisServerConfig({ host: layout.host, port, maxMemoryMb: layout.redis.maxMemoryMb, easelPassword: secrets['redis-easel-password'], exporterPassword: secrets['redis-exporter-password'] }), undefined);
        return { command: 'redis-server', args: [configFile] };
      },
      ready: () => redisAnswers(layout.host, port, { user: serviceRedisUser, password: secrets['redis-easel-password'] }),
      readyTimeoutMs: () => layout.timeouts.startMs,
    };
  });
}

/** The compiled entry point of an Easel process. */
export function serviceEntry(service: string): string {
  return join(repoRoot(), 'dist', 'src', service, 'main.js');
}

/** The Easel processes the launcher runs on Node.js. */
export type NodeServiceKind = 'discovery' | DomainService | 'gateway';

/**
 * V8's memory settings for one kind of Easel process (a gateway's workers inherit them): the
 * heap bounds from the layout, WebAssembly kept on its baseline compiler, and a small heap
 * growth step. undici parses HTTP with llhttp compiled to WebAssembly; once warm, V8 recompiled
 * that parser with its optimizing compiler, which for its one huge state-machine function took
 * some 13 MB of compiler memory for a moment, in every process, around the time it came up. The
 * baseline code parses an answer about 2 us slower (docs/read-path.md), small beside an RPC call.
 * The old generation may grow by 10% past what the last full collection kept before the next
 * one (V8 otherwise picks 10% to 300% by how fast it collects): the gateway workers' peaks under
 * load were 2-3 MB lower, at no cost the benchmarks could see.
 */
export function nodeMemoryArgs(layout: ClusterLayout, kind: NodeServiceKind): string[] {
  const args = [`--max-old-space-size=${layout.memory.maxOldSpaceMb[kind]}`, `--max-semi-space-size=${layout.memory.maxSemiSpaceMb}`, '--liftoff-only', '--heap-growing-percent=10'];
  if (maglevTopTier.has(kind)) args.push('--max-opt=2');
  return args;
}

/**
 * Kinds whose JavaScript goes no further than V8's mid-tier compiler (Maglev): TurboFan's own
 * machine code is some 5 MB of the node binary that a process pages in once it optimizes
 * anything, and its compiles take memory of their own. Without it the gateway's workers and the
 * images service peaked 3-4 MB lower under bench:memory (workers 114.7-116.9 MB against
 * 117.9-121.0, images 113.5-116.4 against 118-119): with it the workers crossed the 120 MB
 * bound in two of five runs. The price, if any, is some of the gateway's speed on cached `/raw`
 * hits: within the shared machine's run-to-run spread when measured (0.45-0.56x bare Fastify
 * against 0.41-0.63x with TurboFan), and 0.63-0.68x since the generation lease took the Redis
 * round trip off a hit (docs/read-path.md). Images spends its time in libvips. The other kinds
 * are well under the bound and keep every tier.
 */
const maglevTopTier: ReadonlySet<NodeServiceKind> = new Set(['gateway', 'images'] as const);

/**
 * glibc's allocator, told to give memory back: scrypt (8 MiB per hash) and libvips allocate
 * large blocks on the thread pool; by default glibc then raises its mmap threshold and keeps
 * such blocks in per-thread arenas after they are freed, which held users' RSS at 250+ MB after
 * a burst of logins. A fixed threshold keeps large blocks mmapped (returned on free), and two
 * arenas bound the per-thread fragmentation. The layout's serviceEnv can override these.
 */
export const nativeMemoryEnv: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '262144',
};

/** Internal metrics ports (METRICS_PORT) of the processes Prometheus finds statically: discovery's and the gateway's. */
export interface MetricsPorts {
  discovery: number[];
  gateway: number;
}

/**
 * Free ports for one cluster, never the same one twice: each port is released as soon as it is
 * found, and the kernel may hand a released port out again to the next request (two processes
 * once got the same METRICS_PORT).
 */
export function distinctPorts(host: string, find: (host: string) => Promise<number> = freePort): () => Promise<number> {
  const given = new Set<number>();
  return async () => {
    for (;;) {
      const port = await find(host);
      if (given.has(port)) continue;
      given.add(port);
      return port;
    }
  };
}

export async function pickMetricsPorts(layout: ClusterLayout, nextPort: () => Promise<number> = distinctPorts(layout.host)): Promise<MetricsPorts> {
  const discovery: number[] = [];
  for (let i = 0; i < layout.discovery.ports.length; i++) discovery.push(await nextPort());
  return { discovery, gateway: await nextPort() };
}

function nodeService(layout: ClusterLayout, kind: NodeServiceKind, instance: string, port: number, after: string[], env: Record<string, string>): ProcessSpec {
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
        args: [...nodeMemoryArgs(layout, kind), '--enable-source-maps', entry],
        cwd: repoRoot(),
        env: { ...nativeMemoryEnv, ...layout.serviceEnv, INSTANCE_NAME: instance, HOST: layout.host, PORT: String(port), LOG_LEVEL: layout.logLevel, ...env },
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
  const nextPort = distinctPorts(layout.host);
  const metricsPorts = await pickMetricsPorts(layout, nextPort);
  if (want('redis')) specs.push(...redisSpecs(layout, secrets));
  if (want('postgres')) specs.push(...postgresHaSpecs(layout, config, secrets));
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
      const port = await nextPort();
      specs.push(nodeService(layout, service, instance, port, [...discoveryNames, ...redisNames, ...postgresReady], {
        ...shared,
        DATABASE_URL: serviceDatabaseUrl(layout, service),
        DATABASE_PASSWORD: servicePassword(secrets, service),
        ...(service === 'users' ? { SIGNING_KEY_SECRET: secrets['signing-key-secret'] } : {}),
        ...(service === 'images' ? { UPLOAD_TRANSACTION: layout.uploadTransaction } : {}),
        // Registered with discovery, which lists it as this instance's Prometheus target.
        METRICS_PORT: String(await nextPort()),
      }));
    }
  }
  // Only the gateway uses Redis (revocations, rate limits, the image cache).
  const gatewayEnv: Record<string, string> = { ...shared, METRICS_PORT: String(metricsPorts.gateway), REDIS_USERNAME: serviceRedisUser, REDIS_PASSWORD: secrets['redis-easel-password'] };
  if (layout.gateway.workers !== undefined) gatewayEnv.GATEWAY_WORKERS = String(layout.gateway.workers);
  // The gateway finds the domain services through discovery (and retries), so it need not wait for them.
  specs.push(nodeService(layout, 'gateway', 'gateway-1', layout.gateway.port, [...discoveryNames, ...redisNames], gatewayEnv));
  return specs;
}
