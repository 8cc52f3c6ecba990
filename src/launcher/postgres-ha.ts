import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initDataDir, isInitialized, multiHostUrl, pgBin, postgresAnswers, postgresUrl, secureDatabases, withSql, writePrivateFile, writeScramHba, type DatabaseSecurity, type LoginRole, type PostgresLogin } from './postgres.js';
import type { ClusterSecrets, SecretName } from './secrets.js';
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
//
// Authentication: scram-sha-256 for every connection (pg_hba.conf is ours, see
// writeScramHba). The launcher administers as the "postgres" superuser with its password; each
// service logs in as its own role owning only its database; pg_auto_failover's own roles
// (autoctl_node on the monitor, pgautofailover_replicator for streaming) get the replication
// password, which pg_autoctl, pg_basebackup and the standby's WAL receiver read from a private
// passfile (PGPASSFILE) beside the data. The monitor's health checks need no password: they
// only look for a server answering.

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
    // Inherited by the PostgreSQL servers pg_autoctl starts (the standby's WAL receiver).
    PGPASSFILE: pgPassFile(layout),
  };
}

function pgPassFile(layout: ClusterLayout): string {
  return join(postgresRoot(layout), 'pgpass');
}

/** The roles pg_auto_failover itself logs in as. */
const autoctlRole = 'autoctl_node';
const replicationRole = 'pgautofailover_replicator';
export const exporterRole = 'easel_exporter';

/** The role a service logs in as: it owns that service's database and nothing else. */
export function serviceRole(database: string): string {
  return `easel_${database}`;
}

function serviceSecret(database: string): SecretName {
  const name = `postgres-${database}-password`;
  if (!['postgres-users-password', 'postgres-images-password', 'postgres-recommendations-password'].includes(name)) {
    throw new Error(`no secret for a database named "${database}" (known: users, images, recommendations)`);
  }
  return name as SecretName;
}

export function servicePassword(secrets: ClusterSecrets, database: string): string {
  return secrets[serviceSecret(database)];
}

/** The superuser login the launcher (and tests) administer with. */
export function adminLogin(secrets: ClusterSecrets): PostgresLogin {
  return { user: 'postgres', password: secrets['postgres-superuser-password'] };
}

/** Roles and ownership on the data nodes (the primary; the standby follows by replication). */
export function dataNodeSecurity(layout: ClusterLayout, secrets: ClusterSecrets): DatabaseSecurity {
  const roles: LoginRole[] = [
    { role: replicationRole, password: secrets['postgres-replication-password'], replication: true },
    { role: exporterRole, password: secrets['postgres-exporter-password'], memberOf: ['pg_monitor'] },
    ...layout.postgres.databases.map((database) => ({ role: serviceRole(database), password: servicePassword(secrets, database) })),
  ];
  return {
    superuserPassword: secrets['postgres-superuser-password'],
    roles,
    databases: layout.postgres.databases.map((database) => ({ database, owner: serviceRole(database) })),
  };
}

function monitorSecurity(secrets: ClusterSecrets): DatabaseSecurity {
  return {
    superuserPassword: secrets['postgres-superuser-password'],
    roles: [
      { role: autoctlRole, password: secrets['postgres-replication-password'] },
      { role: exporterRole, password: secrets['postgres-exporter-password'], memberOf: ['pg_monitor'] },
    ],
    databases: [],
  };
}

/** The passfile pg_autoctl and its servers read; private to the user PostgreSQL runs as. */
function writePgPassFile(layout: ClusterLayout, secrets: ClusterSecrets, runAs: RunAs | undefined): void {
  const lines = [
    `*:*:*:postgres:${secrets['postgres-superuser-password']}`,
    `*:*:*:${autoctlRole}:${secrets['postgres-replication-password']}`,
    `*:*:*:${replicationRole}:${secrets['postgres-replication-password']}`,
  ];
  writePrivateFile(pgPassFile(layout), `${lines.join('\n')}\n`, runAs);
}

/**
 * Sets passwords and roles (idempotently), then closes pg_hba.conf to everything but scram.
 * Retried until `timeoutMs`: two nodes starting together may race on "create role", and the
 * primary may be changing state (wait_primary, a rejoining standby) when this runs.
 */
async function secureNode(nodeUrl: string, dataDir: string, runAs: RunAs | undefined, security: DatabaseSecurity | undefined, primaryUrl: string, timeoutMs: number): Promise<void> {
  let lastError: unknown;
  try {
    await waitFor('roles and passwords to be set', async () => {
      try {
        if (security) await secureDatabases(primaryUrl, security);
        writeScramHba(dataDir, runAs);
        await withSql(nodeUrl, (sql) => sql`select pg_reload_conf()`, 10_000);
        return true;
      } catch (error) {
        lastError = error;
        return false;
      }
    }, { timeoutMs, intervalMs: 1_000 });
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    throw new Error(`could not set PostgreSQL roles and passwords within ${timeoutMs} ms: ${(lastError as Error | undefined)?.message ?? 'no answer'}`);
  }
}

/** pg_autoctl's configuration file for a data directory: its presence means "already created". */
function pgAutoctlConfigPath(layout: ClusterLayout, pgdata: string): string {
  return join(postgresRoot(layout), 'config', 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
}

/** No password in it: pg_autoctl finds autoctl_node's in the passfile (pg_autoctl.cfg stays free of secrets). */
export function monitorUrl(layout: ClusterLayout): string {
  return `postgres://autoctl_node@${layout.host}:${layout.postgres.monitorPort}/pg_auto_failover?sslmode=disable`;
}

/** The URL a service gets: its own role, both data nodes, whichever is writable (the password comes as DATABASE_PASSWORD). */
export function serviceDatabaseUrl(layout: ClusterLayout, database: string): string {
  return multiHostUrl(layout.host, [layout.postgres.primaryPort, layout.postgres.standbyPort], database, { user: serviceRole(database) });
}

/** The superuser's multi-host URL with its password (for the launcher and tests; never logged). */
export function adminDatabaseUrl(layout: ClusterLayout, secrets: ClusterSecrets, database: string): string {
  return multiHostUrl(layout.host, [layout.postgres.primaryPort, layout.postgres.standbyPort], database, adminLogin(secrets));
}


export function postgresHaSpecs(layout: ClusterLayout, config: LauncherConfig, secrets: ClusterSecrets): ProcessSpec[] {
  const runAs = postgresRunAs();
  const root = postgresRoot(layout);
  const env = pgAutoctlEnv(layout, config);
  const admin = adminLogin(secrets);
  const initOptions = { environment: config.childEnvironment, binDir: layout.postgres.binDir, superuserPassword: secrets['postgres-superuser-password'] };
  const pgctl = pgBin('pg_ctl', layout.postgres.binDir);
  // --skip-pg-hba: pg_hba.conf is ours (scram for everyone), see writeScramHba.
  const common = ['--hostname', layout.host, '--listen', layout.host, '--skip-pg-hba', '--no-ssl', '--pgctl', pgctl];
  const prepareRoot = (r: RunAs | undefined) => {
    for (const dir of ['config', 'share', 'run']) ensureDirFor(join(root, dir), r);
    ensureDirFor(root, r);
    writePgPassFile(layout, secrets, r);
  };
  const adminUrl = (port: number, database: string) => postgresUrl(layout.host, port, database, admin);

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
    ready: () => postgresAnswers(adminUrl(layout.postgres.monitorPort, 'pg_auto_failover')),
    readyTimeoutMs: () => layout.timeouts.startMs,
    afterFirstReady: async () => {
      const url = adminUrl(layout.postgres.monitorPort, 'postgres');
      await secureNode(url, monitorData, runAs, monitorSecurity(secrets), url, layout.timeouts.startMs);
    },
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
          await waitForPrimaryFirst(layout, instance, admin);
          return { command: 'pg_autoctl', args: ['run', '--pgdata', pgdata], env, runAs, cwd: root };
        }
        if (index === 0 && !isInitialized(pgdata)) await initDataDir(pgdata, runAs, tuning, initOptions);
        if (index === 1) checkpointNudge = nudgeBaseBackup(layout, port, admin);
        const args = ['create', 'postgres', '--pgdata', pgdata, '--pgport', String(port), '--name', instance, '--monitor', monitorUrl(layout), '--dbname', 'postgres', ...common, '--run'];
        return { command: 'pg_autoctl', args, env, runAs, cwd: root };
      },
      ready: async () => {
        const ok = await postgresAnswers(adminUrl(port, 'postgres'));
        if (ok) checkpointNudge?.();
        return ok;
      },
      readyTimeoutMs: () => (firstStart ? layout.timeouts.postgresFirstStartMs : layout.timeouts.startMs),
      // Whichever node comes up last finds the pair settled; services wait for both nodes.
      afterFirstReady: async () => {
        // The keeper's failover timeouts (failover-tuning.ts) go into its pg_autoctl.cfg, which
        // restarts read again; `config set` also makes the running keeper reload it.
        // After the formation settles: a standby's keeper rewrites its configuration file while
        // it initialises, and a `config set` meanwhile finds it half written. Retried for the same reason.
        await waitForSettledFormation(layout, layout.timeouts.postgresFirstStartMs, admin);
        for (const args of keeperConfigCommands(pgdata)) {
          for (let attempt = 1; ; attempt++) {
            try {
              await runChecked('pg_autoctl', args, { environment: config.childEnvironment, runAs, env, timeoutMs: 15_000 });
              break;
            } catch (error) {
              if (attempt >= 10) throw error;
              await new Promise((resolve) => setTimeout(resolve, 500));
            }
          }
        }
        await secureNode(adminUrl(port, 'postgres'), pgdata, runAs, dataNodeSecurity(layout, secrets), adminDatabaseUrl(layout, secrets, 'postgres'), layout.timeouts.postgresFirstStartMs);
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
function nudgeBaseBackup(layout: ClusterLayout, standbyPort: number, admin: PostgresLogin): () => void {
  const ended = new AbortController();
  const primary = postgresUrl(layout.host, layout.postgres.primaryPort, 'postgres', admin);
  const standby = postgresUrl(layout.host, standbyPort, 'postgres', admin);
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
async function monitorNodes(layout: ClusterLayout, admin: PostgresLogin): Promise<MonitorNode[]> {
  const url = postgresUrl(layout.host, layout.postgres.monitorPort, 'pg_auto_failover', admin);
  try {
    return await withSql(url, (sql) => sql<MonitorNode[]>`
      select nodename as name, nodeport as port, reportedstate::text as reported, goalstate::text as goal,
             coalesce(now() - reporttime < interval '10 seconds', false) as fresh
      from pgautofailover.node order by nodeid`, 5_000);
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
async function waitForPrimaryFirst(layout: ClusterLayout, instance: string, admin: PostgresLogin): Promise<void> {
  const nodes = await monitorNodes(layout, admin);
  const primary = nodes.find((n) => writableStates.has(n.goal));
  if (!primary || primary.name === instance) return;
  const url = postgresUrl(layout.host, primary.port, 'postgres', admin);
  // Bounded: if the primary never comes, starting anyway beats waiting forever.
  await waitFor(`primary ${primary.name} to answer`, () => postgresAnswers(url), { timeoutMs: 30_000, intervalMs: 200 }).catch(() => undefined);
}

/**
 * Waits until every node has reached the state the monitor assigned it and one of them is a
 * writable primary, so services starting next find a stable, writable database.
 */
async function waitForSettledFormation(layout: ClusterLayout, timeoutMs: number, admin: PostgresLogin): Promise<void> {
  let nodes: MonitorNode[] = [];
  try {
    await waitFor('the PostgreSQL formation to settle', async () => {
      nodes = await monitorNodes(layout, admin);
      return nodes.length > 0 && nodes.every((n) => n.fresh && n.reported === n.goal) && nodes.some((n) => writableStates.has(n.reported));
    }, { timeoutMs, intervalMs: 200 });
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    throw new Error(`PostgreSQL formation did not settle within ${timeoutMs} ms: ${nodes.map((n) => `${n.name} ${n.reported}->${n.goal}`).join(', ') || 'monitor not answering'}`);
  }
}
