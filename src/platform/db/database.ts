import postgres from 'postgres';
import type { Logger } from '../log.js';
import { Gauge, type Registry } from 'prom-client';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface DatabaseSettings {
  /** postgres://user@h1:p1,h2:p2/db?target_session_attrs=primary follows the primary across failover (postgres.js judges "read-write" by default_transaction_read_only alone, which a hot standby does not set). */
  url: string;
  /** The role's password when the URL does not carry it (DATABASE_PASSWORD). */
  password?: string | undefined;
  logger: Logger;
  maxConnections?: number;
}

/** A postgres.js pool that follows the primary (multi-host URL) and logs server notices at debug level. */
export function createDatabase(settings: DatabaseSettings): Sql {
  return postgres(settings.url, {
    ...(settings.password === undefined ? {} : { password: settings.password }),
    max: settings.maxConnections ?? 10,
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: (notice) => settings.logger.debug({ notice: notice.message }, 'postgres notice'),
    transform: { undefined: null },
  });
}

export interface Migration {
  /** Stable, ordered id, e.g. "001_users". Never change a migration once it has shipped; add a new one. */
  id: string;
  sql: string;
}

/**
 * Applies pending migrations in order, once, even when several replicas start at the same time
 * (an advisory lock serialises them). Idempotent: a second run applies nothing.
 */
export async function runMigrations(sql: Sql, service: string, migrations: readonly Migration[]): Promise<string[]> {
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${'easel-migrations:' + service}))`;
    await tx`create table if not exists schema_migrations (id text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ id: string }[]>`select id from schema_migrations`).map((row) => row.id));
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await tx.unsafe(migration.sql);
      await tx`insert into schema_migrations (id) values (${migration.id})`;
      applied.push(migration.id);
    }
  });
  return applied;
}

/** A service's pool with its migrations applied; the pool is closed again if they fail. */
export async function openServiceDatabase(settings: DatabaseSettings & { service: string; migrations: readonly Migration[]; metrics?: Registry }): Promise<Sql> {
  const sql = createDatabase(settings);
  try {
    const applied = await runMigrations(sql, settings.service, settings.migrations);
    if (applied.length > 0) settings.logger.info({ applied }, 'migrations applied');
    if (settings.metrics) registerReplicationLagMetric(sql, settings.metrics);
    return sql;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw error;
  }
}

/** A /health check that fails while the database does not answer. */
export function databaseHealthCheck(sql: Sql): () => Promise<Record<string, unknown>> {
  return async () => {
    await sql`select 1`;
    return { database: 'ok' };
  };
}

/**
 * How far the standby replays behind the primary, read from pg_stat_replication at scrape time
 * (0 when no standby is attached). Replication lag is what a failover could lose.
 */
export function registerReplicationLagMetric(sql: Sql, registry: Registry): void {
  new Gauge({
    name: 'easel_postgres_replication_lag_seconds',
    help: 'Replay lag of the standby behind the primary, seconds (0 without a standby)',
    registers: [registry],
    async collect() {
      try {
        const [row] = await sql<{ lag: number }[]>`select coalesce(max(extract(epoch from replay_lag)), 0)::float8 as lag from pg_stat_replication`;
        this.set(row?.lag ?? 0);
      } catch {
        // Keep the last value: a scrape must not fail because the database is briefly away.
      }
    },
  });
}
