import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { LayoutError } from './errors.js';
import { repoRoot } from './paths.js';
import { freePort } from '../platform/ports.js';
import { uploadTransactionModes } from '../contracts/transactions.js';

export { LayoutError };

// The cluster layout: which processes run where. The defaults below are the one place the
// local ports are set (docs/architecture.md lists them); a JSON file or CLI flags override any
// of them.

const port = z.number().int().min(1).max(65535);
const replicas = z.number().int().min(1).max(16);
const millis = z.number().int().positive();

export const layoutSchema = z.object({
  /** Everything the cluster writes (data, logs, launcher state); relative paths are from the repository root. */
  dataDir: z.string().min(1),
  /** The address every process binds and is reached on. */
  host: z.string().min(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  redis: z.object({
    ports: z.array(port).min(1).max(16),
    /** Each node's memory limit; past it Redis evicts least-recently-used keys (it is a cache). */
    maxMemoryMb: z.number().int().min(8).max(65_536),
  }).strict(),
  postgres: z.object({
    monitorPort: port,
    primaryPort: port,
    standbyPort: port,
    binDir: z.string().min(1),
    databases: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')).min(1),
    maxPreparedTransactions: z.number().int().min(1).max(1000),
    /** false trades crash safety for speed (tests). */
    durable: z.boolean(),
  }).strict(),
  discovery: z.object({ ports: z.array(port).min(1).max(8) }).strict(),
  services: z.object({ users: replicas, images: replicas, recommendations: replicas }).strict(),
  gateway: z.object({
    port,
    /** Node cluster workers; absent means the gateway's own default (one per core). */
    workers: z.number().int().min(1).max(64).optional(),
  }).strict(),
  prometheus: z.object({
    /** "auto": run it when the binary is installed. */
    enabled: z.union([z.boolean(), z.literal('auto')]),
    port,
    binary: z.string().min(1),
    scrapeIntervalSeconds: z.number().int().min(1).max(300),
  }).strict(),
  /** Prometheus exporters for the data stores, one per PostgreSQL node (and the monitor) and one per Redis node. */
  exporters: z.object({
    /** "auto": run them when they are installed and Prometheus runs (nothing else would read them). */
    enabled: z.union([z.boolean(), z.literal('auto')]),
    postgres: z.object({
      binary: z.string().min(1),
      /** The exporter of the pg_auto_failover monitor, then of postgres-1 and postgres-2. */
      monitorPort: port,
      primaryPort: port,
      standbyPort: port,
    }).strict(),
    redis: z.object({
      binary: z.string().min(1),
      /** One per Redis node, in redis.ports order. */
      ports: z.array(port).min(1).max(16),
    }).strict(),
  }).strict(),
  timeouts: z.object({
    /** How long a process may take to become ready. */
    startMs: millis,
    /** How long the PostgreSQL standby may take on its first start (base backup). */
    postgresFirstStartMs: millis,
    /** SIGTERM, then SIGKILL after this long. */
    stopMs: millis,
  }).strict(),
  restart: z.object({
    initialDelayMs: millis,
    maxDelayMs: millis,
    factor: z.number().min(1).max(10),
    /** A process that stayed up this long starts over at the initial delay. */
    resetAfterMs: millis,
  }).strict(),
  /**
   * Memory bounds of the Easel (Node) processes: each one's V8 old space (--max-old-space-size,
   * per kind; the gateway's workers inherit the gateway's) and young generation
   * (--max-semi-space-size). With the code, the buffers and the native allocations on top, these
   * keep every process under its budget (docs/read-path.md, "Memory").
   */
  memory: z.object({
    maxOldSpaceMb: z.object({
      gateway: z.number().int().min(16).max(65_536),
      discovery: z.number().int().min(16).max(65_536),
      users: z.number().int().min(16).max(65_536),
      images: z.number().int().min(16).max(65_536),
      recommendations: z.number().int().min(16).max(65_536),
    }).strict(),
    maxSemiSpaceMb: z.number().int().min(1).max(256),
  }).strict(),
  /** Extra environment for every Easel (Node) process, e.g. UPLOAD_QUOTA in a test layout. */
  serviceEnv: z.record(z.string(), z.string()),
  /** How uploads and deletes stay consistent across the services (docs/transactions.md): the images instances' UPLOAD_TRANSACTION. */
  uploadTransaction: z.enum(uploadTransactionModes),
}).strict();

export type ClusterLayout = z.infer<typeof layoutSchema>;

/** The local defaults: the ports docs/architecture.md lists. */
export const defaultLayout: ClusterLayout = {
  dataDir: '.easel',
  host: '127.0.0.1',
  logLevel: 'info',
  redis: { ports: [6380, 6381, 6382, 6383], maxMemoryMb: 256 },
  postgres: {
    monitorPort: 5440,
    primaryPort: 5441,
    standbyPort: 5442,
    binDir: '/usr/lib/postgresql/15/bin',
    databases: ['users', 'images', 'recommendations'],
    maxPreparedTransactions: 20,
    durable: true,
  },
  discovery: { ports: [8500, 8501] },
  services: { users: 2, images: 2, recommendations: 2 },
  gateway: { port: 8080 },
  prometheus: { enabled: 'auto', port: 9090, binary: 'prometheus', scrapeIntervalSeconds: 5 },
  // 94xx and 93xx mirror the PostgreSQL (54xx) and Redis (63xx) ports, away from the ports the
  // Debian packages' own exporter services take (9187, 9121) where systemd starts them.
  exporters: {
    enabled: 'auto',
    postgres: { binary: 'prometheus-postgres-exporter', monitorPort: 9440, primaryPort: 9441, standbyPort: 9442 },
    redis: { binary: 'prometheus-redis-exporter', ports: [9380, 9381, 9382, 9383] },
  },
  timeouts: { startMs: 60_000, postgresFirstStartMs: 120_000, stopMs: 10_000 },
  restart: { initialDelayMs: 250, maxDelayMs: 15_000, factor: 2, resetAfterMs: 30_000 },
  // Safety bounds, not tight fits: bench:memory measured the heaps under the chaos drill's mixed
  // load (docs/read-path.md). A 48 MiB old space once took users to a heap-out-of-memory crash
  // when its first sign-up loaded the password-strength dictionaries (now a compact word file).
  memory: { maxOldSpaceMb: { gateway: 112, discovery: 64, users: 112, images: 112, recommendations: 96 }, maxSemiSpaceMb: 2 },
  serviceEnv: {},
  uploadTransaction: 'saga',
};


export type LayoutOverrides = DeepPartial<ClusterLayout>;
type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/**
 * Merges overrides onto the defaults and validates the result, naming every bad value
 * (e.g. "redis.ports.2: ...", "postgres.standbyPort: ..."). Also rejects two processes on one port.
 */
export function resolveLayout(overrides: unknown = {}, source = 'overrides'): ClusterLayout {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) throw new LayoutError(['(root): must be an object'], source);
  const merged = deepMerge(defaultLayout, overrides as Record<string, unknown>);
  const parsed = layoutSchema.safeParse(merged);
  if (!parsed.success) {
    throw new LayoutError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}${describeValue(merged, issue.path)}`), source);
  }
  const layout = parsed.data;
  const clashes = [...portClashes(layout), ...exporterCountProblems(layout)];
  if (clashes.length > 0) throw new LayoutError(clashes, source);
  return { ...layout, dataDir: isAbsolute(layout.dataDir) ? layout.dataDir : resolve(repoRoot(), layout.dataDir) };
}

/** Reads a JSON layout file (overrides only) and resolves it. */
export function loadLayoutFile(path: string): ClusterLayout {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new LayoutError([`cannot read: ${(error as Error).message}`], path);
  }
  return resolveLayout(parsed, path);
}

/** Every fixed port of the layout with the process that owns it. */
export function fixedPorts(layout: ClusterLayout): Array<{ owner: string; port: number }> {
  return [
    ...layout.redis.ports.map((p, i) => ({ owner: `redis.ports.${i}`, port: p })),
    { owner: 'postgres.monitorPort', port: layout.postgres.monitorPort },
    { owner: 'postgres.primaryPort', port: layout.postgres.primaryPort },
    { owner: 'postgres.standbyPort', port: layout.postgres.standbyPort },
    ...layout.discovery.ports.map((p, i) => ({ owner: `discovery.ports.${i}`, port: p })),
    { owner: 'gateway.port', port: layout.gateway.port },
    ...(layout.prometheus.enabled === false ? [] : [{ owner: 'prometheus.port', port: layout.prometheus.port }]),
    ...(layout.exporters.enabled === false ? [] : [
      { owner: 'exporters.postgres.monitorPort', port: layout.exporters.postgres.monitorPort },
      { owner: 'exporters.postgres.primaryPort', port: layout.exporters.postgres.primaryPort },
      { owner: 'exporters.postgres.standbyPort', port: layout.exporters.postgres.standbyPort },
      ...layout.exporters.redis.ports.map((p, i) => ({ owner: `exporters.redis.ports.${i}`, port: p })),
    ]),
  ];
}

function exporterCountProblems(layout: ClusterLayout): string[] {
  const { length } = layout.exporters.redis.ports;
  return layout.exporters.enabled !== false && length !== layout.redis.ports.length
    ? [`exporters.redis.ports: one port per Redis node is needed (${length} for ${layout.redis.ports.length} nodes)`]
    : [];
}

function portClashes(layout: ClusterLayout): string[] {
  const seen = new Map<number, string>();
  const problems: string[] = [];
  for (const { owner, port: p } of fixedPorts(layout)) {
    const first = seen.get(p);
    if (first) problems.push(`${owner}: port ${p} is already used by ${first}`);
    else seen.set(p, owner);
  }
  return problems;
}

/** Folder layout under dataDir. */
export function layoutPaths(layout: ClusterLayout) {
  return {
    logs: join(layout.dataDir, 'logs'),
    postgres: join(layout.dataDir, 'postgres'),
    prometheus: join(layout.dataDir, 'prometheus'),
    launcherState: join(layout.dataDir, 'launcher.json'),
    pidsFile: join(layout.dataDir, 'pids.json'),
    logFile: (instance: string) => join(layout.dataDir, 'logs', `${instance}.log`),
  };
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(over)) out[key] = key in base ? deepMerge(base[key], value) : value;
    return out;
  }
  return over === undefined ? base : over;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeValue(root: unknown, path: readonly PropertyKey[]): string {
  let value: unknown = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value === undefined || typeof value === 'object' ? '' : ` (got ${JSON.stringify(value)})`;
}

/** The same layout with every fixed port moved by `offset` (a second cluster beside the first). */
export function withPortOffset(layout: ClusterLayout, offset: number): ClusterLayout {
  const shift = (p: number) => p + offset;
  return resolveLayout({
    ...layout,
    redis: { ...layout.redis, ports: layout.redis.ports.map(shift) },
    postgres: { ...layout.postgres, monitorPort: shift(layout.postgres.monitorPort), primaryPort: shift(layout.postgres.primaryPort), standbyPort: shift(layout.postgres.standbyPort) },
    discovery: { ports: layout.discovery.ports.map(shift) },
    gateway: { ...layout.gateway, port: shift(layout.gateway.port) },
    prometheus: { ...layout.prometheus, port: shift(layout.prometheus.port) },
    exporters: shiftedExporters(layout.exporters, shift),
  }, `--port-offset ${offset}`);
}

function shiftedExporters(exporters: ClusterLayout['exporters'], shift: (p: number) => number): ClusterLayout['exporters'] {
  const { postgres, redis } = exporters;
  return {
    ...exporters,
    postgres: { ...postgres, monitorPort: shift(postgres.monitorPort), primaryPort: shift(postgres.primaryPort), standbyPort: shift(postgres.standbyPort) },
    redis: { ...redis, ports: redis.ports.map(shift) },
  };
}

/** A layout whose fixed ports are all free right now, e.g. for a test cluster beside `make start`. */
export async function layoutOnFreePorts(overrides: LayoutOverrides = {}): Promise<ClusterLayout> {
  const ports: number[] = [];
  const next = async () => {
    for (;;) {
      const p = await freePort();
      if (!ports.includes(p)) {
        ports.push(p);
        return p;
      }
    }
  };
  const base = resolveLayout(overrides);
  return resolveLayout({
    ...overrides,
    dataDir: base.dataDir,
    redis: { ...overrides.redis, ports: await Promise.all(base.redis.ports.map(next)) },
    postgres: { ...overrides.postgres, monitorPort: await next(), primaryPort: await next(), standbyPort: await next() },
    discovery: { ports: await Promise.all(base.discovery.ports.map(next)) },
    gateway: { ...overrides.gateway, port: await next() },
    prometheus: { ...overrides.prometheus, port: await next() },
    exporters: {
      ...overrides.exporters,
      postgres: { ...overrides.exporters?.postgres, monitorPort: await next(), primaryPort: await next(), standbyPort: await next() },
      redis: { ...overrides.exporters?.redis, ports: await Promise.all(base.redis.ports.map(next)) },
    },
  }, 'free ports');
}
