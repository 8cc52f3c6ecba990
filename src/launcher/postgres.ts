import { appendFileSync, chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
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

/**
 * initdb with the "postgres" superuser's password set and scram-sha-256 for every connection,
 * then our settings. The password goes through a private file that is removed again.
 */
export async function initDataDir(dataDir: string, runAs: RunAs | undefined, tuning: PostgresTuning, options: { environment: ChildEnvironment; superuserPassword: string; binDir?: string; extraLines?: string[] }): Promise<void> {
  const { environment, binDir = defaultPgBinDir, extraLines = [] } = options;
  ensureDirFor(dataDir, runAs);
  const pwfile = join(dataDir, '..', `.initdb-pw-${randomBytes(6).toString('hex')}`);
  writePrivateFile(pwfile, `${options.superuserPassword}\n`, runAs);
  try {
    await runChecked(pgBin('initdb', binDir), ['-D', dataDir, '-U', 'postgres', '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], { environment, runAs, timeoutMs: 60_000 });
  } finally {
    rmSync(pwfile, { force: true });
  }
  appendFileSync(join(dataDir, 'postgresql.conf'), `\n# easel\n${[...tuningLines(tuning), "password_encryption = 'scram-sha-256'", ...extraLines].join('\n')}\n`);
  writeScramHba(dataDir, runAs);
}

/** Writes a file only its owner (`runAs` when given) can read. */
export function writePrivateFile(path: string, content: string, runAs: RunAs | undefined): void {
  writeFileSync(path, content, { mode: 0o600 });
  if (runAs) chownSync(path, runAs.uid, runAs.gid);
}

/**
 * pg_hba.conf: every connection, local or TCP, ordinary or replication, authenticates with
 * scram-sha-256; nothing is trusted. Written at initdb and again at every start (an older data
 * directory had trust), first in the file so nothing pg_autoctl may append later can widen it.
 */
export const scramHbaLines = [
  '# Written by the easel launcher at every start: no trust, scram-sha-256 for everyone.',
  'local   all          all                 scram-sha-256',
  'host    all          all      all        scram-sha-256',
  'local   replication  all                 scram-sha-256',
  'host    replication  all      all        scram-sha-256',
];

export function writeScramHba(dataDir: string, runAs: RunAs | undefined): void {
  writePrivateFile(join(dataDir, 'pg_hba.conf'), `${scramHbaLines.join('\n')}\n`, runAs);
}

export function isInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/** Who connects: a role and its password (the URL carries both; keep such URLs out of logs). */
export interface PostgresLogin {
  user: string;
  password?: string;
}

function userInfo(login: PostgresLogin): string {
  return login.password === undefined ? encodeURIComponent(login.user) : `${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}`;
}

/** A one-host URL; without `login`, the superuser without a password (only for display). */
export function postgresUrl(host: string, port: number, database: string, login: PostgresLogin = { user: 'postgres' }): string {
  return `postgres://${userInfo(login)}@${host}:${port}/${database}`;
}

/**
 * The multi-host URL services use: postgres.js tries each host and keeps the primary.
 * "primary", not libpq's usual "read-write": postgres.js 3.4 decides "read-write" from
 * default_transaction_read_only alone, which is off on a hot standby, so after a failover
 * it would settle on the standby listed first and every write would fail.
 */
export function multiHostUrl(host: string, ports: readonly number[], database: string, login: PostgresLogin = { user: 'postgres' }): string {
  return `postgres://${userInfo(login)}@${ports.map((p) => `${host}:${p}`).join(',')}/${database}?target_session_attrs=primary`;
}

/** The same (possibly multi-host, which WHATWG URL cannot parse) URL naming another database. */
export function withDatabase(url: string, database: string): string {
  const match = /^(postgres(?:ql)?:\/\/[^/]+)\/[^?]*(\?.*)?$/.exec(url);
  if (!match) throw new Error('not a postgres:// URL with a database');
  return `${match[1]}/${database}${match[2] ?? ''}`;
}

/** True when a SQL query answers on `url` within `timeoutMs` (readiness probe; never throws, never hangs). */
export async function postgresAnswers(url: string, timeoutMs = 5_000): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => undefined });
  try {
    await settleWithin(sql`select 1`, timeoutMs, 'select 1');
    return true;
  } catch {
    return false;
  } finally {
    // end() of a client whose connection was cut mid-start-up can stay pending: do not wait for it.
    void settleWithin(sql.end({ timeout: 1 }), 2_000, 'end').catch(() => undefined);
  }
}

/**
 * Rejects when `work` has not settled after `ms`. postgres.js can leave a query pending with no
 * socket and no timer when a server goes away while the connection starts (seen while a node was
 * rebuilt by pg_basebackup), so every launcher query has an upper bound.
 */
function settleWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `fn` with a one-connection client on `url`, closing it afterwards; fails after `timeoutMs`. */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    return await settleWithin(fn(sql), timeoutMs, 'the launcher\'s queries');
  } finally {
    await settleWithin(sql.end({ timeout: 2 }), 3_000, 'end').catch(() => undefined);
  }
}

/** A login role the launcher keeps in step with its secret (created when missing). */
export interface LoginRole {
  role: string;
  password: string;
  /** Only pg_auto_failover's streaming role. */
  replication?: boolean;
  /** e.g. pg_monitor for the exporter. */
  memberOf?: readonly string[];
}

/** A service database and the one role that owns it (and is the only one let in). */
export interface OwnedDatabase {
  database: string;
  owner: string;
}

export interface DatabaseSecurity {
  superuserPassword: string;
  roles: readonly LoginRole[];
  databases: readonly OwnedDatabase[];
}

const identifierPattern = /^[a-z_][a-z0-9_]*$/;

function identifier(name: string): string {
  if (!identifierPattern.test(name)) throw new Error(`bad PostgreSQL identifier "${name}"`);
  return `"${name}"`;
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Brings roles, passwords and database ownership in line with `security` on the primary behind
 * `adminUrl` (idempotent, run at every start, so data directories from older starts, which had
 * trust and every database owned by the superuser, are converted without a manual step):
 * the superuser's password; every login role, none of them superuser; each service database
 * created if missing, owned by its role, CONNECT revoked from everyone else, and every table in
 * it handed to that role.
 */
export async function secureDatabases(adminUrl: string, security: DatabaseSecurity): Promise<void> {
  await withSql(adminUrl, async (sql) => {
    await sql.unsafe(`alter role postgres with password ${literal(security.superuserPassword)}`);
    for (const login of security.roles) {
      const role = identifier(login.role);
      const [exists] = await sql`select 1 as found from pg_roles where rolname = ${login.role}`;
      if (!exists) await sql.unsafe(`create role ${role} with login`);
      await sql.unsafe(`alter role ${role} with login nosuperuser nocreatedb nocreaterole ${login.replication ? 'replication' : 'noreplication'} password ${literal(login.password)}`);
      for (const group of login.memberOf ?? []) await sql.unsafe(`grant ${identifier(group)} to ${role}`);
    }
    for (const { database, owner } of security.databases) {
      const [exists] = await sql`select 1 as found from pg_database where datname = ${database}`;
      if (!exists) await sql.unsafe(`create database ${identifier(database)} owner ${identifier(owner)}`);
      else await sql.unsafe(`alter database ${identifier(database)} owner to ${identifier(owner)}`);
      await sql.unsafe(`revoke all on database ${identifier(database)} from public`);
    }
  });
  for (const { database, owner } of security.databases) {
    await withSql(withDatabase(adminUrl, database), async (sql) => {
      // Tables (with their indexes and owned sequences), views and free-standing sequences
      // created by an older start as the superuser.
      const relations = await sql<{ name: string }[]>`
        select format('%I.%I', n.nspname, c.relname) as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and pg_get_userbyid(c.relowner) <> ${owner}
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i'))`;
      for (const { name } of relations) await sql.unsafe(`alter table ${name} owner to ${identifier(owner)}`);
    });
  }
}
