import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ClusterInterruptedError, ClusterStartError, UnknownInstanceError } from './errors.js';
import type { ClusterLayout } from './layout.js';
import { loadLauncherConfig, type LauncherConfig } from './config.js';
import { layoutPaths } from './layout.js';
import { signalGroup, spawnInGroup } from './process.js';
import { processAlive } from '../platform/process-alive.js';
import { startControlServer, type ControlServer } from './control.js';
import { serviceDatabaseUrl } from './postgres-ha.js';
import { waitUntilReady } from './readiness.js';
import type { Component, ProcessKind, ProcessSpec } from './spec.js';
import { buildProcessSpecs, redisNodesSpec } from './specs.js';
import { Supervisor } from './supervisor.js';
import { readLauncherState, tailFile, type LauncherState } from './state.js';

export type InstanceState = 'pending' | 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped';

export interface InstanceStatus {
  instance: string;
  kind: ProcessKind;
  state: InstanceState;
  pid: number | undefined;
  port: number;
  url: string;
  /** Easel processes: where /metrics is served (not on the public port). */
  metricsUrl?: string;
  restarts: number;
  log: string;
}

export type ProgressEvent =
  | { type: 'ready'; instance: string; kind: ProcessKind; pid: number; port: number; url: string; ms: number; restarts: number }
  | { type: 'exit'; instance: string; pid: number; code: number | null; signal: string | null; expected: boolean }
  | { type: 'restart-scheduled'; instance: string; attempt: number; delayMs: number }
  | { type: 'start-failed'; instance: string; error: string; logTail: string }
  | { type: 'stopping'; instance: string }
  | { type: 'stopped'; instance: string; ms: number };

export interface StartOptions {
  /** The launcher's environment; read from this process's own when absent. */
  config?: LauncherConfig;
  onProgress?: (event: ProgressEvent) => void;
  /** Start only these parts (default: everything). */
  components?: readonly Component[];
  /** Aborting it during start-up (Ctrl-C) stops what has started and rejects with ClusterInterruptedError. */
  signal?: AbortSignal;
}

export interface ClusterHandle {
  readonly layout: ClusterLayout;
  readonly config: LauncherConfig;
  readonly gatewayUrl: string;
  readonly discoveryUrls: string[];
  readonly prometheusUrl: string | undefined;
  /** REDIS_NODES spec of the ring. */
  readonly redisNodes: string;
  /** How long start-up took. */
  readonly startupMs: number;
  /** Address of the control endpoint that `easel status/kill/down` talk to. */
  readonly controlUrl: string;
  /** Multi-host URL of one of the service databases (or "postgres"). */
  databaseUrl(database: string): string;
  status(): InstanceStatus[];
  /** Signals an instance's process group (default SIGKILL); the supervisor restarts it. */
  kill(instance: string, signal?: NodeJS.Signals): void;
  /** Stops one instance without restarting it (failure drills: a node that stays down). */
  stopInstance(instance: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts an instance stopped with stopInstance again and waits until it is ready. */
  startInstance(instance: string): Promise<InstanceStatus>;
  /** Resolves when the instance is ready (again). */
  waitReady(instance: string, timeoutMs?: number): Promise<InstanceStatus>;
  readonly events: EventEmitter<{ progress: [ProgressEvent] }>;
  /** Stops everything gracefully (reverse start order) and removes the launcher state. */
  stop(): Promise<void>;
  /** Resolves once stop() has completed (from any caller, e.g. `easel down`). */
  readonly stopped: Promise<void>;
}


// Stop order. The pg_auto_failover monitor goes before its data nodes: a monitor that watched
// the nodes go down one by one would record them as failed and start a failover on the next start.
const stopRank: Record<ProcessKind, number> = {
  gateway: 0,
  users: 1,
  images: 1,
  recommendations: 1,
  discovery: 2,
  prometheus: 3,
  'postgres-exporter': 3,
  'redis-exporter': 3,
  'postgres-monitor': 4,
  postgres: 5,
  redis: 6,
};

interface Entry {
  spec: ProcessSpec;
  supervisor: Supervisor;
  state: InstanceState;
  level: number;
  readyWaiters: Array<() => void>;
}

/** Starts the cluster described by `layout`, supervising every process. */
export async function startCluster(layout: ClusterLayout, options: StartOptions = {}): Promise<ClusterHandle> {
  const began = Date.now();
  const paths = layoutPaths(layout);
  mkdirSync(layout.dataDir, { recursive: true, mode: 0o755 });
  mkdirSync(paths.logs, { recursive: true });
  claimDataDir(layout);

  const config = options.config ?? loadLauncherConfig();
  const specs = await buildProcessSpecs(layout, config, options.components);
  const events = new EventEmitter<{ progress: [ProgressEvent] }>();
  const emit = (event: ProgressEvent) => {
    events.emit('progress', event);
    options.onProgress?.(event);
  };

  const entries = new Map<string, Entry>();
  const levels = new Map<string, number>();
  const levelOf = (spec: ProcessSpec): number => {
    const known = levels.get(spec.instance);
    if (known !== undefined) return known;
    const deps = spec.after.map((name) => specs.find((s) => s.instance === name)).filter((s): s is ProcessSpec => s !== undefined);
    const level = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(levelOf));
    levels.set(spec.instance, level);
    return level;
  };

  for (const spec of specs) {
    const logPath = paths.logFile(spec.instance);
    const supervisor = new Supervisor(spec.instance, async () => spawnInGroup(await spec.launch(), logPath, config.childEnvironment), {
      policy: layout.restart,
      stopTimeoutMs: layout.timeouts.stopMs,
    });
    const entry: Entry = { spec, supervisor, state: 'pending', level: levelOf(spec), readyWaiters: [] };
    entries.set(spec.instance, entry);
    supervisor.on('spawn', () => recordPids(layout, entries));
    supervisor.on('exit', (e) => {
      if (!e.expected) entry.state = 'restarting';
      emit({ type: 'exit', instance: e.instance, pid: e.pid, code: e.code, signal: e.signal, expected: e.expected });
    });
    supervisor.on('restart-scheduled', (e) => emit({ type: 'restart-scheduled', ...e }));
    supervisor.on('spawn', (e) => {
      if (e.restarts === 0) return;
      // A restarted process is ready again only once its probe says so.
      entry.state = 'starting';
      const spawnedAt = Date.now();
      waitUntilReady(spec.instance, spec.ready, { timeoutMs: spec.readyTimeoutMs(), exited: supervisor.currentExit() }).then(
        () => {
          if (entry.state !== 'starting' || supervisor.pid !== e.pid) return;
          markReady(entry);
          emit({ type: 'ready', instance: spec.instance, kind: spec.kind, pid: e.pid, port: spec.port, url: spec.url, ms: Date.now() - spawnedAt, restarts: supervisor.restarts });
        },
        () => undefined,
      );
    });
  }

  const markReady = (entry: Entry) => {
    entry.state = 'ready';
    for (const waiter of entry.readyWaiters.splice(0)) waiter();
  };

  const stopAll = async () => {
    // The public entrance first, then the services, then what they depend on.
    const waves = new Map<string, Entry[]>();
    for (const entry of entries.values()) {
      const key = `${String(stopRank[entry.spec.kind]).padStart(2, '0')}-${String(99 - entry.level).padStart(2, '0')}`;
      waves.set(key, [...(waves.get(key) ?? []), entry]);
    }
    for (const key of [...waves.keys()].sort()) {
      await Promise.all(waves.get(key)!.filter((e) => e.state !== 'pending' && e.state !== 'stopped').map(async (entry) => {
        entry.state = 'stopping';
        emit({ type: 'stopping', instance: entry.spec.instance });
        const stoppingAt = Date.now();
        await entry.supervisor.stop();
        entry.state = 'stopped';
        emit({ type: 'stopped', instance: entry.spec.instance, ms: Date.now() - stoppingAt });
      }));
    }
    for (const entry of entries.values()) if (entry.state === 'pending') entry.state = 'stopped';
    recordPids(layout, entries);
  };

  // If this process exits without stop() (a crashed test runner), take the cluster with it.
  const killAllOnExit = () => {
    for (const entry of entries.values()) if (entry.supervisor.pid !== undefined && entry.state !== 'stopped') signalGroup(entry.supervisor.pid, 'SIGKILL');
  };
  process.once('exit', killAllOnExit);

  // Start each process as soon as everything it depends on is ready.
  const started = new Map<string, Promise<void>>();
  let failure: ClusterStartError | undefined;
  const startOne = (entry: Entry): Promise<void> => {
    const existing = started.get(entry.spec.instance);
    if (existing) return existing;
    const promise = (async () => {
      await Promise.all(entry.spec.after.map((name) => {
        const dep = entries.get(name);
        return dep ? startOne(dep) : Promise.resolve();
      }));
      if (failure || options.signal?.aborted) return;
      const { spec, supervisor } = entry;
      entry.state = 'starting';
      const spawnedAt = Date.now();
      try {
        const child = await supervisor.start();
        await waitUntilReady(spec.instance, spec.ready, { timeoutMs: spec.readyTimeoutMs(), exited: child.exited, signal: options.signal });
        if (failure || options.signal?.aborted) return;
        await spec.afterFirstReady?.();
        markReady(entry);
        emit({ type: 'ready', instance: spec.instance, kind: spec.kind, pid: child.pid, port: spec.port, url: spec.url, ms: Date.now() - spawnedAt, restarts: 0 });
      } catch (error) {
        // No restarts of a process that never came up; the whole start is being abandoned.
        await supervisor.stop();
        entry.state = 'stopped';
        if (options.signal?.aborted) return;
        const logPath = paths.logFile(spec.instance);
        const logTail = tailFile(logPath, 25);
        const reason = (error as Error).message;
        failure ??= new ClusterStartError(spec.instance, reason, logTail, logPath);
        emit({ type: 'start-failed', instance: spec.instance, error: reason, logTail });
      }
    })();
    started.set(entry.spec.instance, promise);
    return promise;
  };
  await Promise.all([...entries.values()].map(startOne));
  if (failure || options.signal?.aborted) {
    await stopAll();
    process.removeListener('exit', killAllOnExit);
    releaseDataDir(layout);
    throw failure ?? new ClusterInterruptedError();
  }

  const startupMs = Date.now() - began;
  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const knownNames = () => [...entries.keys()];
  const entryOf = (instance: string): Entry => {
    const entry = entries.get(instance);
    if (!entry) throw new UnknownInstanceError(instance, knownNames());
    return entry;
  };
  const statusOf = (entry: Entry): InstanceStatus => ({
    instance: entry.spec.instance,
    kind: entry.spec.kind,
    state: entry.state,
    pid: entry.state === 'stopped' ? undefined : entry.supervisor.pid,
    port: entry.spec.port,
    url: entry.spec.url,
    ...(entry.spec.metricsPort === undefined ? {} : { metricsUrl: `http://${entry.spec.host}:${entry.spec.metricsPort}/metrics` }),
    restarts: entry.supervisor.restarts,
    log: paths.logFile(entry.spec.instance),
  });

  const controlRef: { server?: ControlServer } = {};
  const handle: ClusterHandle = {
    layout,
    config,
    gatewayUrl: `http://${layout.host}:${layout.gateway.port}`,
    discoveryUrls: layout.discovery.ports.map((p) => `http://${layout.host}:${p}`),
    prometheusUrl: entries.has('prometheus') ? `http://${layout.host}:${layout.prometheus.port}` : undefined,
    redisNodes: redisNodesSpec(layout),
    startupMs,
    controlUrl: '',
    databaseUrl: (database) => serviceDatabaseUrl(layout, database),
    status: () => [...entries.values()].map(statusOf),
    kill: (instance, signal = 'SIGKILL') => {
      const entry = entryOf(instance);
      if (!entry.supervisor.kill(signal)) throw new Error(`${instance} is not running`);
    },
    stopInstance: async (instance, signal = 'SIGTERM') => {
      const entry = entryOf(instance);
      entry.state = 'stopping';
      await entry.supervisor.stop(signal);
      entry.state = 'stopped';
      recordPids(layout, entries);
    },
    startInstance: async (instance) => {
      const entry = entryOf(instance);
      if (entry.state !== 'stopped') throw new Error(`${instance} is ${entry.state}, not stopped`);
      entry.state = 'starting';
      const spawnedAt = Date.now();
      const child = await entry.supervisor.start();
      await waitUntilReady(instance, entry.spec.ready, { timeoutMs: entry.spec.readyTimeoutMs(), exited: child.exited });
      markReady(entry);
      emit({ type: 'ready', instance, kind: entry.spec.kind, pid: child.pid, port: entry.spec.port, url: entry.spec.url, ms: Date.now() - spawnedAt, restarts: entry.supervisor.restarts });
      return statusOf(entry);
    },
    waitReady: (instance, timeoutMs = 60_000) => {
      const entry = entryOf(instance);
      if (entry.state === 'ready') return Promise.resolve(statusOf(entry));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${instance} not ready after ${timeoutMs} ms (state ${entry.state})`)), timeoutMs);
        entry.readyWaiters.push(() => {
          clearTimeout(timer);
          resolve(statusOf(entry));
        });
      });
    },
    events,
    stop: () => {
      stopping ??= (async () => {
        await controlRef.server?.close();
        await stopAll();
        process.removeListener('exit', killAllOnExit);
        releaseDataDir(layout);
        resolveStopped();
      })();
      return stopping;
    },
    stopped,
  };
  const control = await startControlServer(handle);
  controlRef.server = control;
  (handle as { controlUrl: string }).controlUrl = control.url;
  writeLauncherState(layout, { pid: process.pid, controlPort: control.port, token: control.token, startedAt: new Date(began).toISOString(), dataDir: layout.dataDir });
  return handle;
}

/** Refuses a second launcher on the same data directory; cleans up after one that died. */
function claimDataDir(layout: ClusterLayout): void {
  const state = readLauncherState(layout);
  if (state && state.pid !== process.pid && processAlive(state.pid)) {
    throw new Error(`a launcher (pid ${state.pid}) is already running on ${layout.dataDir}: stop it with "easel down" first`);
  }
  // A launcher that was SIGKILLed leaves its process groups behind: end them.
  const pidsFile = layoutPaths(layout).pidsFile;
  try {
    const leftovers = JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, { pid: number; command: string }>;
    for (const { pid, command } of Object.values(leftovers)) {
      if (processAlive(pid, { group: true }) && commandOf(pid).includes(command)) signalGroup(pid, 'SIGKILL');
    }
  } catch {
    // no leftovers
  }
  writeLauncherState(layout, { pid: process.pid, controlPort: 0, startedAt: new Date().toISOString(), dataDir: layout.dataDir });
}

function releaseDataDir(layout: ClusterLayout): void {
  const state = readLauncherState(layout);
  if (state?.pid === process.pid) rmSync(layoutPaths(layout).launcherState, { force: true });
}

function writeLauncherState(layout: ClusterLayout, state: LauncherState): void {
  writeFileSync(layoutPaths(layout).launcherState, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function recordPids(layout: ClusterLayout, entries: Map<string, Entry>): void {
  const pids: Record<string, { pid: number; command: string }> = {};
  for (const entry of entries.values()) {
    const pid = entry.supervisor.pid;
    if (pid !== undefined && entry.state !== 'stopped') pids[entry.spec.instance] = { pid, command: commandOf(pid).split('\0')[0] ?? '' };
  }
  writeFileSync(layoutPaths(layout).pidsFile, `${JSON.stringify(pids)}\n`);
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
