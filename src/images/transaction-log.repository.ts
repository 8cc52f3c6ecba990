import type { Sql, TransactionSql } from '../platform/db/database.js';
import type { UploadTransactionMode } from '../contracts/transactions.js';

// The SQL of the upload and delete transactions' durable log (table upload_transactions, see
// migrations.ts). Every state change is one conditional UPDATE: a driver that finds the
// transaction no longer in the state it expected stops, so two drivers never undo each other.

export type TransactionKind = 'upload' | 'delete';

export interface TransactionRecord {
  id: string;
  protocol: UploadTransactionMode;
  kind: TransactionKind;
  state: string;
  authorId: string;
  idempotencyKey: string | null;
  imageId: string;
  uploadId: string;
  started: Date;
  updated: Date;
  finished: Date | null;
  outcome: string | null;
}

export interface NewTransaction {
  id: string;
  protocol: UploadTransactionMode;
  kind: TransactionKind;
  state: string;
  authorId: string;
  idempotencyKey: string | undefined;
  imageId: string;
  uploadId: string;
}

export interface StateChange {
  /** Sets finished and the outcome: the transaction reached its end. */
  finish?: string;
  /** Frees the idempotency key (the upload failed): a retry with it is a new upload. */
  clearKey?: boolean;
}

/** Thrown inside a state change's transaction to roll its work back when the state moved meanwhile. */
class StateMoved extends Error {}

export interface TransactionLog {
  /**
   * Records a new transaction (with `work` in the same database transaction). When its
   * idempotency key is held by another transaction, records nothing and returns that one.
   */
  begin(record: NewTransaction, now: Date, work?: (tx: TransactionSql) => Promise<void>): Promise<{ started: true } | { started: false; existing: TransactionRecord }>;
  get(id: string): Promise<TransactionRecord | undefined>;
  /** Moves it from one of `from` to `to`, with `work` in the same database transaction; false (and no work done) when it was in none of `from`. */
  advance(id: string, from: readonly string[], to: string, now: Date, change?: StateChange, work?: (tx: TransactionSql) => Promise<void>): Promise<boolean>;
  /** Claims up to `limit` unfinished transactions not touched since `cutoff` (FOR UPDATE SKIP LOCKED: one claimant each), marking them touched at `now`. */
  claimStuck(cutoff: Date, now: Date, limit: number): Promise<TransactionRecord[]>;
  /** Unfinished transactions per protocol with the age of the oldest, seconds. */
  openSummary(now: Date): Promise<Array<{ protocol: string; open: number; oldestSeconds: number }>>;
  /** The stored image's index data, visible or not. */
  storedImage(imageId: string): Promise<{ authorId: string; tags: string[]; created: string } | undefined>;
}

interface Row {
  id: string;
  protocol: UploadTransactionMode;
  kind: TransactionKind;
  state: string;
  author_id: string;
  idempotency_key: string | null;
  image_id: string;
  upload_id: string;
  started: Date;
  updated: Date;
  finished: Date | null;
  outcome: string | null;
}

const toRecord = (row: Row): TransactionRecord => ({
  id: row.id,
  protocol: row.protocol,
  kind: row.kind,
  state: row.state,
  authorId: row.author_id,
  idempotencyKey: row.idempotency_key,
  imageId: row.image_id,
  uploadId: row.upload_id,
  started: row.started,
  updated: row.updated,
  finished: row.finished,
  outcome: row.outcome,
});

export function transactionLog(sql: Sql): TransactionLog {
  const get = async (db: Sql | TransactionSql, id: string) => {
    const rows = await db<Row[]>`select * from upload_transactions where id = ${id}`;
    return rows[0] ? toRecord(rows[0]) : undefined;
  };
  return {
    async begin(record, now, work) {
      return sql.begin(async (tx) => {
        const inserted = await tx`
          insert into upload_transactions (id, protocol, kind, state, author_id, idempotency_key, image_id, upload_id, started, updated)
          values (${record.id}, ${record.protocol}, ${record.kind}, ${record.state}, ${record.authorId}, ${record.idempotencyKey ?? null},
                  ${record.imageId}, ${record.uploadId}, ${now}, ${now})
          on conflict (author_id, idempotency_key) where idempotency_key is not null do nothing
          returning id`;
        if (inserted.length === 0) {
          const [row] = await tx<Row[]>`select * from upload_transactions where author_id = ${record.authorId} and idempotency_key = ${record.idempotencyKey ?? null}`;
          // The holder finished and freed the key between the insert and this read: the caller tries again.
          if (!row) throw new StateMoved();
          return { started: false as const, existing: toRecord(row) };
        }
        if (work) await work(tx);
        return { started: true as const };
      });
    },

    get: (id) => get(sql, id),

    async advance(id, from, to, now, change = {}, work) {
      try {
        return await sql.begin(async (tx) => {
          const moved = await tx`
            update upload_transactions set state = ${to}, updated = ${now},
              finished = ${change.finish !== undefined ? now : null}, outcome = ${change.finish ?? null},
              idempotency_key = case when ${change.clearKey === true} then null else idempotency_key end
            where id = ${id} and state = any(${[...from]}::text[]) returning id`;
          if (moved.length === 0) throw new StateMoved();
          if (work) await work(tx);
          return true;
        });
      } catch (error) {
        if (error instanceof StateMoved) return false;
        throw error;
      }
    },

    async claimStuck(cutoff, now, limit) {
      const rows = await sql<Row[]>`
        with stuck as (
          select id from upload_transactions where finished is null and updated < ${cutoff}
          order by updated limit ${limit} for update skip locked
        )
        update upload_transactions t set updated = ${now}, attempts = t.attempts + 1
        from stuck where t.id = stuck.id returning t.*`;
      return rows.map(toRecord);
    },

    async openSummary(now) {
      return sql<Array<{ protocol: string; open: number; oldestSeconds: number }>>`
        select protocol, count(*)::int as open, coalesce(max(extract(epoch from ${now}::timestamptz - started)), 0)::float8 as "oldestSeconds"
        from upload_transactions where finished is null group by protocol`;
    },

    async storedImage(imageId) {
      const rows = await sql<{ author_id: string; tags: string[]; created: Date }[]>`select author_id, tags, created from images where id = ${imageId}`;
      const row = rows[0];
      return row ? { authorId: row.author_id, tags: row.tags, created: row.created.toISOString() } : undefined;
    },
  };
}

export { StateMoved };
