import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { runChecked } from './exec.js';
import type { ChildEnvironment } from './config.js';
import { ensureDirFor, type RunAs } from './system-user.js';

// PostgreSQL pieces shared by the launcher (src/launcher) and the test harness
// (test/harness/postgres.ts), so both run the database the same way.

export const defaultPgBinDir = '/usr/lib/postgresql/15/bin';

export function pgBin(name: string, binDir = defaultPgBinDir): string {
  return join(binDir, name);
}

export interface PostgresTuning {
  /** Two-phase commit needs this above zero. */
  maxPreparedTransactions: number;
  maxConnections: number;
  /** Off only for throwaway test data: no fsync, much faster, unsafe on a machine crash. */
  durable: boolean;
  /**
   * Commit without waiting for the WAL flush (nor for a synchronous standby). Only for a single
   * throwaway node: with replication it would lose committed rows on failover.
   */
  asyncCommit?: boolean;
}

export const defaultTuning: PostgresTuning = { maxPreparedTransactions: 20, maxConnections: 200, durable: true };

/** Settings written into postgresql.conf after initdb (pg_basebackup copies them to a standby). */
export function tuningLines(tuning: PostgresTuning): string[] {
  const lines = [
    `max_prepared_transactions = ${tuning.maxPreparedTransactions}`,
    `max_connections = ${tuning.maxConnections}`,
    `listen_addresses = '127.0.0.1'`,
  ];
  if (!tuning.durable) lines.push('fsync = off', 'full_page_writes = off');
  if (tuning.asyncCommit) lines.push('synchronous_commit = off');
  return lines;
}

/** initdb with trust authentication for the "postgres" superuser, then our settings. */
export async function initDataDir(dataDir: string, runAs: RunAs | undefined, tuning: PostgresTuning, options: { environment: ChildEnvironment; binDir?: string; extraLines?: string[] }): Promise<void> {
  const { environment, binDir = defaultPgBinDir, extraLines = [] } = options;
  ensureDirFor(dataDir, runAs);
  await runChecked(pgBin('initdb', binDir), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], { environment, runAs, timeoutMs: 60_000 });
  appendFileSync(join(dataDir, 'postgresql.conf'), `\n# easel\n${[...tuningLines(tuning), ...extraLines].join('\n')}\n`);
}

export function isInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

export function postgresUrl(host: string, port: number, database: string): string {
  return `postgres://postgres@${host}:${port}/${database}`;
}

/**
 * The multi-host URL services use: postgres.js tries each host and keeps the primary.
 * "primary", not libpq's usual "read-write": postgres.js 3.4 decides "read-write" from
 * default_transaction_read_only alone, which is off on a hot standby, so after a failover
 * it would settle on the standby listed first and every write would fail.
 */
export function multiHostUrl(host: string, ports: readonly number[], database: string): string {
  return `postgres://postgres@${ports.map((p) => `${host}:${p}`).join(',')}/${database}?target_session_attrs=primary`;
}

/** True when a SQL query answers on `url` (readiness probe; never throws). */
export async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

/** Runs `fn` with a one-connection client on `url`, closing it afterwards. */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 }).catch(() => undefined);
  }
}

/** Creates each database that does not exist yet (idempotent). */
export async function ensureDatabases(adminUrl: string, names: readonly string[]): Promise<void> {
  await withSql(adminUrl, async (sql) => {
    for (const name of names) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name "${name}"`);
      const rows = await sql`select 1 from pg_database where datname = ${name}`;
      if (rows.length === 0) await sql.unsafe(`create database "${name}"`);
    }
  });
}
