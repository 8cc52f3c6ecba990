import postgres from 'postgres';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FailoverProbe } from './failover.js';

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

const probes = new WeakMap<object, FailoverProbe>();
/** Pools that reconnect when a pool does (reconnectTogether). */
const companions = new WeakMap<object, Array<() => void>>();

/** The failover probe of a pool made by createDatabase (undefined for any other Sql). */
export function failoverProbeOf(sql: Sql): FailoverProbe | undefined {
  return probes.get(sql);
}

/**
 * A postgres.js pool that follows the primary (multi-host URL) and logs server notices at debug
 * level. It can be reconnected as a whole (failover.ts): connections stuck on a hung primary
 * never fail by themselves, so the pool behind the returned Sql is replaced and the old one
 * destroyed, which fails what was stuck on it at once.
 */
export function createDatabase(settings: DatabaseSettings): Sql {
  const open = () => postgres(settings.url, {
    ...(settings.password === undefined ? {} : { password: settings.password }),
    max: settings.maxConnections ?? 10,
    idle_timeout: 30,
    // A local server accepts a connection in milliseconds; a frozen one accepts the TCP
    // connection and never answers. Two seconds, then the next host of the URL.
    connect_timeout: 2,
    onnotice: (notice) => settings.logger.debug({ notice: notice.message }, 'postgres notice'),
    transform: { undefined: null },
  });
  let current = open();
  let reconnectedAt = 0;
  let ended = false;
  let unavailableSince: number | undefined;
  const target = function database() {} as unknown as object;
  const sql = new Proxy(target, {
    apply: (_target, thisArg, args) => Reflect.apply(current as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, property) => {
      if (property === 'end') {
        return (options?: { timeout?: number }) => {
          ended = true;
          return current.end(options);
        };
      }
      const value = Reflect.get(current, property) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(current) : value;
    },
  }) as unknown as Sql;
  companions.set(sql, []);
  probes.set(sql, {
    answers: async () => {
      // The same credentials as the pool: a probe refused for want of a password would call
      // every slow attempt a hung server and reconnect the pool under everyone's feet.
      const probe = postgres(settings.url, {
        ...(settings.password === undefined ? {} : { password: settings.password }),
        max: 1, connect_timeout: 1, idle_timeout: 1, onnotice: () => undefined,
      });
      try {
        await probe`select 1`;
        return true;
      } catch {
        return false;
      } finally {
        await probe.end({ timeout: 0 }).catch(() => undefined);
      }
    },
    reconnect: () => {
      // Once per second at most: every stalled request asks at about the same time.
      if (ended || Date.now() - reconnectedAt < 1_000) return;
      reconnectedAt = Date.now();
      const old = current;
      current = open();
      settings.logger.warn('database not answering: reconnecting every pooled connection');
      void old.end({ timeout: 0 }).catch(() => undefined);
      for (const reconnectCompanion of companions.get(sql) ?? []) reconnectCompanion();
    },
    noteUnavailable: () => {
      unavailableSince ??= Date.now();
    },
    noteAvailable: () => {
      if (unavailableSince === undefined) return;
      const seconds = (Date.now() - unavailableSince) / 1000;
      unavailableSince = undefined;
      settings.logger.warn({ seconds }, 'database available again after a failover');
      outages.get(sql)?.(seconds);
    },
  });
  return sql;
}

/**
 * Makes `companion` (another pool to the same database, e.g. two-phase.ts phaseTwoDatabase)
 * reconnect whenever `main` does: the ride-through probes only the main pool, and a connection
 * of the companion stuck on a hung primary would never fail by itself either.
 */
export function reconnectTogether(main: Sql, companion: Sql): void {
  const other = probes.get(companion);
  if (other) companions.get(main)?.push(() => other.reconnect());
}

const outages = new WeakMap<object, (seconds: number) => void>();

/**
 * What the services saw of database failovers: how many, and how long the last one kept the
 * database away (from the first request that met it unavailable to the first that got through:
 * detection, promotion and reconnection together, i.e. the time-to-promote a user feels).
 */
export function registerFailoverMetrics(sql: Sql, registry: Registry): void {
  const count = new Counter({ name: 'easel_database_outages_total', help: 'Times the database was unavailable to this process and came back (failovers seen)', registers: [registry] });
  const last = new Gauge({ name: 'easel_database_last_outage_seconds', help: 'How long the last database outage lasted as this process saw it (detection, promotion, reconnection), seconds', registers: [registry] });
  count.inc(0);
  last.set(0);
  outages.set(sql, (seconds) => {
    count.inc();
    last.set(seconds);
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
    if (settings.metrics) {
      registerReplicationLagMetric(sql, settings.metrics);
      registerFailoverMetrics(sql, settings.metrics);
    }
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
