import { Gauge, type Registry } from 'prom-client';
import type { Sql, TransactionSql } from './database.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';

// The participant's side of two-phase commit, shared by every service that takes part: a
// prepare is a real PREPARE TRANSACTION (the work survives a crash and holds its locks until
// COMMIT/ROLLBACK PREPARED), commit and abort are idempotent, and a resolver asks the
// coordinator about prepared transactions nobody finished (presumed abort).

/** Transaction ids are UUIDs; the global id PostgreSQL keeps is this prefix plus the id. */
export const preparedPrefix = 'easel:';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The PREPARE TRANSACTION id of `txId`; refuses anything but a UUID (it is spliced into SQL). */
export function preparedId(txId: string): string {
  if (!uuidPattern.test(txId)) throw new Error(`not a transaction id: ${JSON.stringify(txId)}`);
  return `${preparedPrefix}${txId}`;
}

export async function isPrepared(sql: Sql, txId: string): Promise<boolean> {
  const rows = await sql`select 1 from pg_prepared_xacts where gid = ${preparedId(txId)} and database = current_database()`;
  return rows.length > 0;
}

/**
 * Runs `work` and prepares it under `txId` instead of committing. A repeated prepare of a
 * transaction that is still prepared votes yes again without doing the work twice.
 */
export async function prepareTransaction(sql: Sql, txId: string, work: (tx: TransactionSql) => Promise<void>): Promise<void> {
  const gid = preparedId(txId);
  if (await isPrepared(sql, txId)) return;
  await sql.begin(async (tx) => {
    await work(tx);
    tx.prepare(gid);
  });
}

// 42704 undefined_object: no prepared transaction with that id (already finished, or never prepared).
const finishedAlready = (error: unknown) => (error as { code?: string } | null)?.code === '42704';

/** COMMIT PREPARED; true when this call committed it, false when there was nothing (left) to commit. */
export async function commitPrepared(sql: Sql, txId: string): Promise<boolean> {
  try {
    await sql.unsafe(`commit prepared '${preparedId(txId)}'`);
    return true;
  } catch (error) {
    if (finishedAlready(error)) return false;
    throw error;
  }
}

/** ROLLBACK PREPARED; false when there was nothing to roll back. */
export async function rollbackPrepared(sql: Sql, txId: string): Promise<boolean> {
  try {
    await sql.unsafe(`rollback prepared '${preparedId(txId)}'`);
    return true;
  } catch (error) {
    if (finishedAlready(error)) return false;
    throw error;
  }
}

/** Our prepared transactions in this database older than `olderThanMs`, oldest first. */
export async function stalePrepared(sql: Sql, olderThanMs: number): Promise<Array<{ txId: string; ageSeconds: number }>> {
  const rows = await sql<{ gid: string; age: number }[]>`
    select gid, extract(epoch from now() - prepared)::float8 as age from pg_prepared_xacts
    where database = current_database() and gid like ${preparedPrefix + '%'} and prepared < now() - make_interval(secs => ${olderThanMs / 1000})
    order by prepared`;
  return rows.map((row) => ({ txId: row.gid.slice(preparedPrefix.length), ageSeconds: row.age }));
}

export type Decision = 'commit' | 'abort' | 'pending';

export interface PreparedResolverSettings {
  sql: Sql;
  /** What the coordinator decided; 'abort' when it has no record (presumed abort). */
  decision(txId: string): Promise<Decision>;
  /** A prepared transaction is only asked about once it is this old: the coordinator is usually about to finish it. */
  olderThanMs: number;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  metrics?: Registry;
  service: string;
}

/**
 * Every `intervalMs`, finishes the prepared transactions older than `olderThanMs` as the
 * coordinator decided. Exports how many are that old (an alert fires when they stay).
 */
export function startPreparedResolver(settings: PreparedResolverSettings): { stop(): void; runOnce(): Promise<number> } {
  const { sql, logger, clock } = settings;
  if (settings.metrics) {
    new Gauge({
      name: 'easel_prepared_transactions_stale',
      help: 'Prepared transactions in this service\'s database older than the resolver threshold (none should stay)',
      labelNames: ['service'],
      registers: [settings.metrics],
      async collect() {
        try {
          this.set({ service: settings.service }, (await stalePrepared(sql, settings.olderThanMs)).length);
        } catch {
          // keep the last value while the database is away
        }
      },
    });
  }
  let stopped = false;
  let timer: unknown;
  const runOnce = async (): Promise<number> => {
    let resolved = 0;
    for (const { txId } of await stalePrepared(sql, settings.olderThanMs)) {
      const decision = await settings.decision(txId);
      if (decision === 'pending') continue;
      const done = decision === 'commit' ? await commitPrepared(sql, txId) : await rollbackPrepared(sql, txId);
      if (done) {
        resolved++;
        logger.warn({ txId, decision }, 'finished a prepared transaction left behind');
      }
    }
    return resolved;
  };
  const schedule = () => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      runOnce().catch((error: unknown) => logger.warn({ err: error }, 'prepared transaction resolver: will try again')).finally(schedule);
    }, settings.intervalMs);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clock.clearTimeout(timer);
    },
    runOnce,
  };
}
