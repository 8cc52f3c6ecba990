import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDatabases, initDataDir, isInitialized, multiHostUrl, pgBin, postgresAnswers, postgresUrl, withSql } from './postgres.js';
import type { ClusterLayout } from './layout.js';
import type { LauncherConfig } from './config.js';
import type { ProcessSpec } from './spec.js';
import { ensureDirFor, postgresRunAs, type RunAs } from './system-user.js';
import { runChecked } from './exec.js';
import { keeperConfigCommands, writeMonitorFailoverSettings } from './failover-tuning.js';
import { waitFor, WaitTimeoutError } from '../platform/wait.js';

// PostgreSQL made highly available by pg_auto_failover: a monitor and two data nodes. The
// first data node is initialised by us (so our settings, e.g. max_prepared_transactions, are
// in its postgresql.conf) and registers as primary; the second is cloned from it by
// pg_autoctl (pg_basebackup) and becomes the synchronous standby.

export const monitorInstance = 'postgres-monitor';
export const dataNodeInstances = ['postgres-1', 'postgres-2'] as const;

export function postgresRoot(layout: ClusterLayout): string {
  return join(layout.dataDir, 'postgres');
}

/** Environment that keeps pg_autoctl's own state files beside the data instead of in $HOME. */
export function pgAutoctlEnv(layout: ClusterLayout, config: LauncherConfig): Record<string, string> {
  const root = postgresRoot(layout);
  return {
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_DATA_HOME: join(root, 'share'),
    XDG_RUNTIME_DIR: join(root, 'run'),
    PG_CONFIG: pgBin('pg_config', layout.postgres.binDir),
    PATH: `${layout.postgres.binDir}:${config.PATH}`,
  };
}

/** pg_autoctl's configuration file for a data directory: its presence means "already created". */
function pgAutoctlConfigPath(layout: ClusterLayout, pgdata: string): string {
  return join(postgresRoot(layout), 'config', 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
}

export function monitorUrl(layout: ClusterLayout): string {
  return `postgres://autoctl_node@${layout.host}:${layout.postgres.monitorPort}/pg_auto_failover?sslmode=disable`;
}

/** The URL services get: both data nodes, whichever is writable. */
export function serviceDatabaseUrl(layout: ClusterLayout, database: string): string {
  return multiHostUrl(layout.host, [layout.postgres.primaryPort, layout.postgres.standbyPort], database);
}


export function postgresHaSpecs(layout: ClusterLayout, config: LauncherConfig): ProcessSpec[] {
  const runAs = postgresRunAs();
  const root = postgresRoot(layout);
  const env = pgAutoctlEnv(layout, config);
  const initOptions = { environment: config.childEnvironment, binDir: layout.postgres.binDir };
  const pgctl = pgBin('pg_ctl', layout.postgres.binDir);
  const common = ['--hostname', layout.host, '--listen', layout.host, '--auth', 'trust', '--no-ssl', '--pgctl', pgctl];
  const prepareRoot = (r: RunAs | undefined) => {
    for (const dir of ['config', 'share', 'run']) ensureDirFor(join(root, dir), r);
    ensureDirFor(root, r);
  };

  const tuning = { maxPreparedTransactions: layout.postgres.maxPreparedTransactions, maxConnections: 300, durable: layout.postgres.durable };
  const monitorData = join(root, 'monitor');
  const monitor: ProcessSpec = {
    instance: monitorInstance,
    kind: 'postgres-monitor',
    component: 'postgres',
    host: layout.host,
    port: layout.postgres.monitorPort,
    after: [],
    url: postgresUrl(layout.host, layout.postgres.monitorPort, 'pg_auto_failover'),
    launch: async () => {
      prepareRoot(runAs);
      const created = existsSync(pgAutoctlConfigPath(layout, monitorData));
      // Our own initdb (no fsync) is quicker than pg_autoctl's; it adopts the data directory.
      if (!created && !isInitialized(monitorData)) await initDataDir(monitorData, runAs, { ...tuning, maxPreparedTransactions: 0, maxConnections: 100 }, initOptions);
      // Quick failure detection (failover-tuning.ts). The start-up grace period stays at its
      // default (10 s after the monitor starts), so nodes still starting are not failed over.
      writeMonitorFailoverSettings(monitorData);
      const args = created
        ? ['run', '--pgdata', monitorData]
        : ['create', 'monitor', '--pgdata', monitorData, '--pgport', String(layout.postgres.monitorPort), ...common, '--run'];
      return { command: 'pg_autoctl', args, env, runAs, cwd: root };
    },
    ready: () => postgresAnswers(postgresUrl(layout.host, layout.postgres.monitorPort, 'pg_auto_failover')),
    readyTimeoutMs: () => layout.timeouts.startMs,
  };

  const nodes = dataNodeInstances.map((instance, index): ProcessSpec => {
    const port = index === 0 ? layout.postgres.primaryPort : layout.postgres.standbyPort;
    const pgdata = join(root, instance);
    let firstStart = false;
    let checkpointNudge: (() => void) | undefined;
    return {
      instance,
      kind: 'postgres',
      component: 'postgres',
      host: layout.host,
      port,
      // A new standby is cloned from the primary, so it waits for it. Existing nodes wait in
      // launch() for whichever the monitor knows as primary (see waitForPrimaryFirst).
      after: index === 0 || existsSync(pgAutoctlConfigPath(layout, pgdata)) ? [monitorInstance] : [monitorInstance, dataNodeInstances[0]],
      url: postgresUrl(layout.host, port, 'postgres'),
      launch: async () => {
        prepareRoot(runAs);
        const created = existsSync(pgAutoctlConfigPath(layout, pgdata));
        firstStart = !created;
        if (created) {
          await waitForPrimaryFirst(layout, instance);
          return { command: 'pg_autoctl', args: ['run', '--pgdata', pgdata], env, runAs, cwd: root };
        }
        if (index === 0 && !isInitialized(pgdata)) await initDataDir(pgdata, runAs, tuning, initOptions);
        if (index === 1) checkpointNudge = nudgeBaseBackup(layout, port);
        const args = ['create', 'postgres', '--pgdata', pgdata, '--pgport', String(port), '--name', instance, '--monitor', monitorUrl(layout), '--dbname', 'postgres', ...common, '--run'];
        return { command: 'pg_autoctl', args, env, runAs, cwd: root };
      },
      ready: async () => {
        const ok = await postgresAnswers(postgresUrl(layout.host, port, 'postgres'));
        if (ok) checkpointNudge?.();
        return ok;
      },
      readyTimeoutMs: () => (firstStart ? layout.timeouts.postgresFirstStartMs : layout.timeouts.startMs),
      // Whichever node comes up last finds the pair settled; services wait for both nodes.
      afterFirstReady: async () => {
        // The keeper's failover timeouts (failover-tuning.ts) go into its pg_autoctl.cfg, which
        // restarts read again; `config set` also makes the running keeper reload it.
        for (const args of keeperConfigCommands(pgdata)) {
          await runChecked('pg_autoctl', args, { environment: config.childEnvironment, runAs, env, timeoutMs: 15_000 });
        }
        await waitForSettledFormation(layout, layout.timeouts.postgresFirstStartMs);
        await ensureDatabases(serviceDatabaseUrl(layout, 'postgres'), layout.postgres.databases);
      },
    };
  });
  return [monitor, ...nodes];
}

/**
 * pg_basebackup (run by pg_autoctl for a new standby) starts with a "spread" checkpoint on the
 * primary that takes several seconds; asking the primary for an immediate checkpoint meanwhile
 * finishes it at once. Returns a function that ends the nudging.
 */
function nudgeBaseBackup(layout: ClusterLayout, standbyPort: number): () => void {
  const ended = new AbortController();
  const primary = postgresUrl(layout.host, layout.postgres.primaryPort, 'postgres');
  const standby = postgresUrl(layout.host, standbyPort, 'postgres');
  waitFor('the standby to finish its base backup', async () => {
    if (await postgresAnswers(standby)) return true;
    await withSql(primary, (sql) => sql`checkpoint`).catch(() => undefined);
    return false;
  }, { timeoutMs: 60_000, intervalMs: 1_000, signal: ended.signal }).catch(() => undefined);
  return () => ended.abort();
}

export interface PgAutoctlNodeState {
  name: string;
  port: number;
  /** e.g. "primary", "secondary", "wait_primary", "catchingup". */
  reportedState: string;
  assignedState: string;
  health: number;
}

/** `pg_autoctl show state` as the monitor sees the formation. */
export async function showPgAutoctlState(layout: ClusterLayout, config: LauncherConfig): Promise<PgAutoctlNodeState[]> {
  const result = await runChecked('pg_autoctl', ['show', 'state', '--pgdata', join(postgresRoot(layout), 'monitor'), '--json'], { environment: config.childEnvironment, runAs: postgresRunAs(), env: pgAutoctlEnv(layout, config), timeoutMs: 15_000 });
  const rows = JSON.parse(result.stdout) as Array<{ nodename: string; nodeport: number; current_group_state: string; assigned_group_state: string; health: number }>;
  return rows.map((r) => ({ name: r.nodename, port: r.nodeport, reportedState: r.current_group_state, assignedState: r.assigned_group_state, health: r.health }));
}

export interface PgAutoctlEvent {
  time: Date;
  nodeName: string;
  description: string;
}

/** The monitor's latest events, oldest first (`pg_autoctl show events`): failovers, state changes, health. */
export async function showPgAutoctlEvents(layout: ClusterLayout, config: LauncherConfig, count = 100): Promise<PgAutoctlEvent[]> {
  const result = await runChecked('pg_autoctl', ['show', 'events', '--pgdata', join(postgresRoot(layout), 'monitor'), '--count', String(count), '--json'], { environment: config.childEnvironment, runAs: postgresRunAs(), env: pgAutoctlEnv(layout, config), timeoutMs: 15_000 });
  const rows = JSON.parse(result.stdout) as Array<{ eventtime: string; nodename: string; description: string }>;
  return rows.map((r) => ({ time: new Date(r.eventtime), nodeName: r.nodename, description: r.description })).sort((a, b) => a.time.getTime() - b.time.getTime());
}

interface MonitorNode {
  name: string;
  port: number;
  reported: string;
  goal: string;
  /** Its keeper reported recently (not a record left from the last run). */
  fresh: boolean;
}

/** The formation as recorded by the monitor (one query; empty when the monitor does not answer). */
async function monitorNodes(layout: ClusterLayout): Promise<MonitorNode[]> {
  const url = postgresUrl(layout.host, layout.postgres.monitorPort, 'pg_auto_failover');
  try {
    return await withSql(url, (sql) => sql<MonitorNode[]>`
      select nodename as name, nodeport as port, reportedstate::text as reported, goalstate::text as goal,
             coalesce(now() - reporttime < interval '10 seconds', false) as fresh
      from pgautofailover.node order by nodeid`);
  } catch {
    return [];
  }
}

const writableStates = new Set(['single', 'primary', 'wait_primary', 'join_primary', 'apply_settings']);

/**
 * On a restart, the node the monitor knows as primary must be up before the other one: a
 * standby that reports first while the primary is still down makes the monitor fail over.
 * Waits (bounded) for the primary to answer SQL when `instance` is not the primary.
 */
async function waitForPrimaryFirst(layout: ClusterLayout, instance: string): Promise<void> {
  const nodes = await monitorNodes(layout);
  const primary = nodes.find((n) => writableStates.has(n.goal));
  if (!primary || primary.name === instance) return;
  const url = postgresUrl(layout.host, primary.port, 'postgres');
  // Bounded: if the primary never comes, starting anyway beats waiting forever.
  await waitFor(`primary ${primary.name} to answer`, () => postgresAnswers(url), { timeoutMs: 30_000, intervalMs: 200 }).catch(() => undefined);
}

/**
 * Waits until every node has reached the state the monitor assigned it and one of them is a
 * writable primary, so services starting next find a stable, writable database.
 */
async function waitForSettledFormation(layout: ClusterLayout, timeoutMs: number): Promise<void> {
  let nodes: MonitorNode[] = [];
  try {
    await waitFor('the PostgreSQL formation to settle', async () => {
      nodes = await monitorNodes(layout);
      return nodes.length > 0 && nodes.every((n) => n.fresh && n.reported === n.goal) && nodes.some((n) => writableStates.has(n.reported));
    }, { timeoutMs, intervalMs: 200 });
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    throw new Error(`PostgreSQL formation did not settle within ${timeoutMs} ms: ${nodes.map((n) => `${n.name} ${n.reported}->${n.goal}`).join(', ') || 'monitor not answering'}`);
  }
}
