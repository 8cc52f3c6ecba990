import { mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startCluster, type ClusterHandle, type ProgressEvent } from '../../src/launcher/cluster.js';
import { layoutOnFreePorts, type ClusterLayout, type LayoutOverrides } from '../../src/launcher/layout.js';
import { repoRoot } from '../../src/launcher/paths.js';
import type { Component } from '../../src/launcher/spec.js';
import { withoutPrometheus } from './prometheus.js';

export type { ClusterHandle, ProgressEvent } from '../../src/launcher/cluster.js';

export interface TestClusterOptions {
  /** Layout overrides (ports are always free ones; dataDir defaults to a fresh .easel/test/cluster-* directory). */
  layout?: LayoutOverrides;
  /** Start only these parts. */
  components?: readonly Component[];
  onProgress?: (event: ProgressEvent) => void;
  /** Keep the data directory after stop (default: delete it). */
  keepData?: boolean;
}

export interface TestCluster extends ClusterHandle {
  /** Stops everything and deletes the data directory (unless keepData). */
  stop(): Promise<void>;
}

/** Test defaults: fast (non-durable) PostgreSQL, no Prometheus (see prometheus.ts), one gateway worker, quick restarts. */
export function testLayoutDefaults(dataDir: string): LayoutOverrides {
  return {
    dataDir,
    logLevel: 'info',
    postgres: { durable: false },
    prometheus: withoutPrometheus,
    gateway: { workers: 1 },
    restart: { initialDelayMs: 100, maxDelayMs: 2_000, factor: 2, resetAfterMs: 10_000 },
    timeouts: { startMs: 60_000, postgresFirstStartMs: 90_000, stopMs: 8_000 },
  };
}

/** The whole cluster (or some components) on free ports with its own data directory, beside any running `make start`. */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const dataDir = options.layout?.dataDir ?? join(repoRoot(), '.easel', 'test', `cluster-${randomBytes(4).toString('hex')}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const defaults = testLayoutDefaults(dataDir);
  const start = async (attempt: number): Promise<ClusterHandle> => {
    const layout: ClusterLayout = await layoutOnFreePorts(mergeOverrides(defaults, options.layout ?? {}));
    try {
      return await startCluster(layout, { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.components ? { components: options.components } : {}) });
    } catch (error) {
      // A free port found here can be taken by another test's process before ours binds it:
      // start again on other free ports (the failed start stopped what it had started).
      // Afresh, as the data folders remember the ports they were made with.
      // Only a folder of our own is wiped; one the caller gave may hold what it means to keep.
      if (attempt < 3 && portTaken(error) && options.layout?.dataDir === undefined) {
        rmSync(dataDir, { recursive: true, force: true });
        mkdirSync(dataDir, { recursive: true, mode: 0o755 });
        return start(attempt + 1);
      }
      throw error;
    }
  };
  let handle: ClusterHandle;
  try {
    handle = await start(1);
  } catch (error) {
    if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await handle.stop();
    if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  return { ...handle, stop };
}

function portTaken(error: unknown): boolean {
  const logTail = (error as { logTail?: unknown } | null)?.logTail;
  return typeof logTail === 'string' && logTail.includes('EADDRINUSE');
}

function mergeOverrides(base: LayoutOverrides, over: LayoutOverrides): LayoutOverrides {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = current && typeof current === 'object' && !Array.isArray(current) && value && typeof value === 'object' && !Array.isArray(value)
      ? { ...current, ...value }
      : value;
  }
  return out as LayoutOverrides;
}
