import { Gauge, type Registry } from 'prom-client';
import { createDatabase, reconnectTogether, type DatabaseSettings, type Sql, type TransactionSql } from './database.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import { unavailable } from '../errors.js';

// The participant's side of two-phase commit, shared by every service that takes part: a
// prepare is a real PREPARE TRANSACTION (the work survives a crash and holds its locks until
// COMMIT/ROLLBACK PREPARED), commit and abort are idempotent, and a resolver asks the
// coordinator about prepared transactions nobody finished (presumed abort).

/**
 * Transaction ids are UUIDs. PostgreSQL's prepared-transaction ids are unique across the whole
 * server, and the participants' databases may share one: each participant prefixes its name.
 */
export const preparedPrefix = (participant: string) => `easel:${participant}:`;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const participantPattern = /^[a-z]+$/;

/** The PREPARE TRANSACTION id of `txId` at `participant`; refuses anything else (it is spliced into SQL). */
export function preparedId(participant: string, txId: string): string {
  if (!uuidPattern.test(txId)) throw new Error(`not a transaction id: ${JSON.stringify(txId)}`);
  if (!participantPattern.test(participant)) throw new Error(`not a participant name: ${JSON.stringify(participant)}`);
  return `${preparedPrefix(participant)}${txId}`;
}

export async function isPrepared(sql: Sql, participant: string, txId: string): Promise<boolean> {
  const rows = await sql`select 1 from pg_prepared_xacts where gid = ${preparedId(participant, txId)} and database = current_database()`;
  return rows.length > 0;
}

export interface PrepareOptions {
  /**
   * Epoch ms when the coordinator stops waiting for this vote (the RPC attempt's deadline less a
   * margin, see voteDeadline). A prepare still running after that would vote yes to nobody: the
   * coordinator has aborted meanwhile, and the prepared transaction would hold its row locks
   * (the user's quota row, a tag's counter) until a resolver asks about it, while every other
   * prepare for that row queues behind it holding a pooled connection, and the commit that would
   * free them finds none. So lock waits and statements end by the deadline, and past it the work
   * is rolled back instead of prepared.
   */
  deadline?: number;
  now?: () => number;
}

/** How long before its RPC attempt's deadline a participant stops working towards a yes vote. */
export const voteMarginMs = 500;

/** The prepare deadline for an RPC attempt that ends at `attemptDeadline` (the handler's context.deadline). */
export function voteDeadline(attemptDeadline: number): number {
  return attemptDeadline - voteMarginMs;
}

// 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout).
const outOfTime = (error: unknown) => ['55P03', '57014'].includes((error as { code?: string } | null)?.code ?? '');

class VoteTooLate extends Error {}

/**
 * Runs `work` and prepares it under `txId` instead of committing. A repeated prepare of a
 * transaction that is still prepared votes yes again without doing the work twice. With a
 * deadline, a prepare that cannot finish in time votes no (UNAVAILABLE, worth a retry) and
 * leaves nothing behind.
 */
export async function prepareTransaction(sql: Sql, participant: string, txId: string, work: (tx: TransactionSql) => Promise<void>, options: PrepareOptions = {}): Promise<void> {
  const gid = preparedId(participant, txId);
  const now = options.now ?? Date.now;
  const { deadline } = options;
  if (await isPrepared(sql, participant, txId)) return;
  try {
    await sql.begin(async (tx) => {
      if (deadline !== undefined) {
        const budgetMs = Math.floor(deadline - now());
        if (budgetMs <= 0) throw new VoteTooLate();
        await tx`select set_config('lock_timeout', ${`${budgetMs}ms`}, true), set_config('statement_timeout', ${`${budgetMs}ms`}, true)`;
      }
      await work(tx);
      if (deadline !== undefined && now() >= deadline) throw new VoteTooLate();
      tx.prepare(gid);
    });
  } catch (error) {
    if (error instanceof VoteTooLate || outOfTime(error)) {
      throw unavailable(`${participant} could not prepare before the coordinator's deadline; try again`, { retryAfterSeconds: 1, cause: error });
    }
    throw error;
  }
}

// 42704 undefined_object: no prepared transaction with that id (already finished, or never prepared).
const finishedAlready = (error: unknown) => (error as { code?: string } | null)?.code === '42704';

/** COMMIT PREPARED; true when this call committed it, false when there was nothing (left) to commit. */
export function commitPrepared(sql: Sql, participant: string, txId: string): Promise<boolean> {
  return endPrepared(sql, 'commit', participant, txId);
}

/** ROLLBACK PREPARED; false when there was nothing to roll back. */
export function rollbackPrepared(sql: Sql, participant: string, txId: string): Promise<boolean> {
  return endPrepared(sql, 'rollback', participant, txId);
}

async function endPrepared(sql: Sql, verb: 'commit' | 'rollback', participant: string, txId: string): Promise<boolean> {
  try {
    // preparedId checks both parts against strict patterns: nothing else reaches the statement.
    await sql.unsafe(`${verb} prepared '${preparedId(participant, txId)}'`);
    return true;
  } catch (error) {
    if (finishedAlready(error)) return false;
    throw error;
  }
}

/** Our prepared transactions in this database older than `olderThanMs`, oldest first. */
export async function stalePrepared(sql: Sql, participant: string, olderThanMs: number): Promise<Array<{ txId: string; ageSeconds: number }>> {
  const prefix = preparedPrefix(participant);
  const rows = await sql<{ gid: string; age: number }[]>`
    select gid, extract(epoch from now() - prepared)::float8 as age from pg_prepared_xacts
    where database = current_database() and gid like ${prefix + '%'} and prepared < now() - make_interval(secs => ${olderThanMs / 1000})
    order by prepared`;
  return rows.map((row) => ({ txId: row.gid.slice(prefix.length), ageSeconds: row.age }));
}

export type Decision = 'commit' | 'abort' | 'pending';

/** The pool size of phaseTwoDatabase. */
export const phaseTwoConnections = 2;

/**
 * A participant's own small pool for phase two and its resolver (COMMIT / ROLLBACK PREPARED,
 * pg_prepared_xacts). Those statements free the row locks that prepares in the service's main
 * pool may be queued on; sharing that pool, they could wait for a connection held by a prepare
 * that waits for them, and nothing would move until the prepares gave up. It reconnects with
 * `main` (a hung primary).
 */
export function phaseTwoDatabase(main: Sql, settings: Omit<DatabaseSettings, 'maxConnections'>): Sql {
  const phaseTwo = createDatabase({ ...settings, maxConnections: phaseTwoConnections });
  reconnectTogether(main, phaseTwo);
  return phaseTwo;
}

/** easel_prepared_transactions_stale{service}: read at scrape time with `count`. */
export function registerStalePreparedGauge(registry: Registry, service: string, count: () => Promise<number>): void {
  new Gauge({
    name: 'easel_prepared_transactions_stale',
    help: 'Prepared transactions in this service\'s database older than the resolver threshold (none should stay)',
    labelNames: ['service'],
    registers: [registry],
    async collect() {
      try {
        this.set({ service }, await count());
      } catch {
        // keep the last value while the database is away
      }
    },
  });
}

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
    registerStalePreparedGauge(settings.metrics, settings.service, async () => (await stalePrepared(sql, settings.service, settings.olderThanMs)).length);
  }
  let stopped = false;
  let timer: unknown;
  const runOnce = async (): Promise<number> => {
    let resolved = 0;
    for (const { txId } of await stalePrepared(sql, settings.service, settings.olderThanMs)) {
      const decision = await settings.decision(txId);
      if (decision === 'pending') continue;
      const done = decision === 'commit' ? await commitPrepared(sql, settings.service, txId) : await rollbackPrepared(sql, settings.service, txId);
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
