import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { childEnv } from '../../src/launcher/exec.js';
import { loadLauncherConfig } from '../../src/launcher/config.js';
import { repoRoot } from '../../src/launcher/paths.js';
import { defaultPgBinDir, defaultTuning, initDataDir, pgBin, postgresAnswers, postgresUrl, withSql, type PostgresTuning } from '../../src/launcher/postgres.js';
import { postgresRunAs } from '../../src/launcher/system-user.js';
import { adminLogin, dataNodeInstances, showPgAutoctlState, type PgAutoctlNodeState } from '../../src/launcher/postgres-ha.js';
import type { InstanceStatus, ProgressEvent } from '../../src/launcher/cluster.js';
import { startTestCluster } from './cluster.js';
import { freePort } from '../../src/platform/ports.js';
import { waitFor } from '../../src/platform/wait.js';

export interface PostgresOptions {
  port?: number;
  /** Where the data directory goes; default a fresh directory under .easel/test/. */
  baseDir?: string;
  binDir?: string;
  tuning?: Partial<PostgresTuning>;
}

export interface PostgresHandle {
  host: string;
  port: number;
  /** The "postgres" superuser's password (every connection authenticates with scram-sha-256). */
  superuserPassword: string;
  /** Superuser URL of the "postgres" database, password included. */
  adminUrl: string;
  url(database: string): string;
  /** Creates a fresh, uniquely named database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** SIGKILL the server (for failure tests); its data directory stays until stop(). */
  kill(): Promise<void>;
  /** Shut down (fast) and delete the data directory. */
  stop(): Promise<void>;
}

/**
 * A plain single-node PostgreSQL 15 on a free port, tuned for tests (fsync off,
 * max_prepared_transactions > 0), with the launcher's authentication: scram-sha-256 for every
 * connection and a fresh superuser password (in the URLs it hands out). Runs as the postgres
 * user when we are root.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresHandle> {
  const runAs = postgresRunAs();
  const port = options.port ?? (await freePort());
  const baseDir = options.baseDir ?? join(repoRoot(), '.easel', 'test');
  mkdirSync(baseDir, { recursive: true, mode: 0o755 });
  const dir = join(baseDir, `pg-${port}-${randomBytes(3).toString('hex')}`);
  const dataDir = join(dir, 'data');
  const tuning = { ...defaultTuning, durable: false, asyncCommit: true, ...options.tuning };
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const environment = loadLauncherConfig().childEnvironment;
  const superuserPassword = randomBytes(18).toString('base64url');
  const admin = { user: 'postgres', password: superuserPassword };
  await initDataDir(dataDir, runAs, tuning, { environment, superuserPassword, binDir: options.binDir ?? defaultPgBinDir, extraLines: [`port = ${port}`, `unix_socket_directories = ''`] });

  const logPath = join(dir, 'postgres.log');
  const logFd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(pgBin('postgres', options.binDir), ['-D', dataDir], {
    cwd: '/',
    env: childEnv(environment, {}, runAs),
    stdio: ['ignore', logFd, logFd],
    detached: true,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // A test runner that dies must not leave a database behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  const host = '127.0.0.1';
  const adminUrl = postgresUrl(host, port, 'postgres', admin);
  try {
    await waitFor(`postgres on ${port}`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited:\n${tail(logPath)}`);
      return postgresAnswers(adminUrl);
    }, { timeoutMs: 30_000, intervalMs: 50 });
  } catch (error) {
    killGroup('SIGKILL');
    throw error;
  }

  let counter = 0;
  let stopped = false;
  return {
    host,
    port,
    superuserPassword,
    adminUrl,
    url: (database) => postgresUrl(host, port, database, admin),
    createDatabase: async (prefix = 'test') => {
      const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++counter}_${randomBytes(2).toString('hex')}`.slice(0, 63);
      await withSql(adminUrl, (sql) => sql.unsafe(`create database "${name}"`));
      return postgresUrl(host, port, name, admin);
    },
    kill: async () => {
      killGroup('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      killGroup('SIGINT'); // fast shutdown
      const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      killGroup('SIGKILL'); // any backend left behind
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface PostgresHANode {
  /** "postgres-1" or "postgres-2" (pg_auto_failover node names too). */
  name: string;
  port: number;
  url(database: string): string;
  /** SIGKILL the node (pg_autoctl and its postgres); the supervisor restarts it. */
  kill(): Promise<void>;
  /** Sends a signal to every process of the node, backends included (SIGSTOP freezes it whole, SIGCONT thaws it). */
  signal(signal: NodeJS.Signals): void;
  /** Stop the node and keep it down (e.g. to force a failover); `signal` SIGKILL simulates a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start a node stopped with stop() again. */
  start(): Promise<void>;
  /** The launcher's view: state (ready, restarting, stopped...), pid, restarts. */
  status(): InstanceStatus;
}

export interface PostgresHAHandle {
  monitorPort: number;
  nodes: PostgresHANode[];
  /** Multi-host superuser URL, password included (target_session_attrs=primary): always reaches the current primary. */
  url(database: string): string;
  /** Superuser URL of the "postgres" database, multi-host. */
  adminUrl: string;
  /** Creates a fresh, uniquely named database and returns its multi-host URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** The formation as the monitor sees it. */
  state(): Promise<PgAutoctlNodeState[]>;
  /** Resolves once one node is "primary" and the other "secondary" (streaming, synchronous). */
  waitHealthy(timeoutMs?: number): Promise<PgAutoctlNodeState[]>;
  stop(): Promise<void>;
}

/**
 * PostgreSQL HA exactly as the launcher runs it (same process specs): a pg_auto_failover
 * monitor, a primary and a synchronous standby, the users/images/recommendations databases,
 * on free ports with a fresh data directory. Takes ~15 s (the standby is a base backup).
 */
export async function startPostgresHA(options: { onProgress?: (event: ProgressEvent) => void } = {}): Promise<PostgresHAHandle> {
  const cluster = await startTestCluster({ components: ['postgres'], ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  const layout = cluster.layout;
  const host = layout.host;
  const ports = [layout.postgres.primaryPort, layout.postgres.standbyPort];
  const state = () => showPgAutoctlState(layout, cluster.config);
  let counter = 0;
  const handle: PostgresHAHandle = {
    monitorPort: layout.postgres.monitorPort,
    nodes: dataNodeInstances.map((name, i) => ({
      name,
      port: ports[i]!,
      url: (database: string) => postgresUrl(host, ports[i]!, database, adminLogin(cluster.secrets)),
      kill: async () => {
        cluster.kill(name, 'SIGKILL');
      },
      signal: (signal: NodeJS.Signals) => cluster.kill(name, signal),
      stop: (signal: NodeJS.Signals = 'SIGTERM') => cluster.stopInstance(name, signal),
      start: async () => {
        await cluster.startInstance(name);
      },
      status: () => cluster.status().find((p) => p.instance === name)!,
    })),
    url: (database) => cluster.databaseUrl(database),
    adminUrl: cluster.databaseUrl('postgres'),
    createDatabase: async (prefix = 'test') => {
      const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++counter}_${randomBytes(2).toString('hex')}`.slice(0, 63);
      await withSql(cluster.databaseUrl('postgres'), (sql) => sql.unsafe(`create database "${name}"`));
      return cluster.databaseUrl(name);
    },
    state,
    waitHealthy: (timeoutMs = 60_000) =>
      waitFor('pg_auto_failover primary + secondary', async () => {
        const nodes = await state();
        const states = nodes.map((n) => n.reportedState).sort();
        return states.length === 2 && states[0] === 'primary' && states[1] === 'secondary' && nodes.every((n) => n.assignedState === n.reportedState) ? nodes : undefined;
      }, { timeoutMs, intervalMs: 250 }),
    stop: () => cluster.stop(),
  };
  return handle;
}
