import postgres from 'postgres';
import { waitFor } from '../../../src/platform/wait.js';

// The cross-database invariants of uploads and deletes, read straight from the three databases
// (as an operator checking them would): used after crashes by the failpoint and chaos tests.

export type TransactionService = 'users' | 'images' | 'recommendations';

export interface Consistency {
  /** Visible images per author id. */
  imagesByAuthor: Record<string, number>;
  /** Reserved quota units per user id (users with none left out). */
  quotaByUser: Record<string, number>;
  /** Visible image ids not in the tag index. */
  notIndexed: string[];
  /** Index rows whose image is not stored. */
  orphanIndexRows: string[];
  /** Images stored but not visible (an unfinished transaction's). */
  invisible: number;
  prepared: Record<TransactionService, number>;
  unfinishedTransactions: number;
}

/** Reads the three databases directly (superuser), as an operator checking the invariants would. */
export async function readConsistency(databases: Record<TransactionService, string>): Promise<Consistency> {
  const open = (url: string) => postgres(url, { max: 1, onnotice: () => undefined });
  const [users, images, recommendations] = [open(databases.users), open(databases.images), open(databases.recommendations)];
  try {
    // The images database in one snapshot: read statement by statement, an image published by
    // recovery between two of them was counted neither visible nor invisible. Its transaction's
    // steps in the other databases come before it is finished, so they are read after this.
    const { visible, invisible, unfinished, stored } = await images.begin('isolation level repeatable read read only', async (sql) => ({
      visible: await sql<{ id: string; author_id: string }[]>`select id, author_id from images where visible`,
      invisible: (await sql<{ n: number }[]>`select count(*)::int as n from images where not visible`)[0],
      unfinished: (await sql<{ n: number }[]>`select count(*)::int as n from upload_transactions where finished is null`)[0],
      stored: await sql<{ id: string }[]>`select id from images`,
    }));
    const reservations = await users<{ user_id: string; n: number }[]>`select user_id::text, count(*)::int as n from upload_reservations group by user_id`;
    const indexed = await recommendations<{ image_id: string }[]>`select image_id from images`;
    const preparedIn = async (sql: postgres.Sql) => (await sql<{ n: number }[]>`select count(*)::int as n from pg_prepared_xacts where database = current_database()`)[0]!.n;
    const indexedIds = new Set(indexed.map((row) => row.image_id));
    const storedIds = new Set(stored.map((row) => row.id));
    const imagesByAuthor: Record<string, number> = {};
    for (const row of visible) imagesByAuthor[row.author_id] = (imagesByAuthor[row.author_id] ?? 0) + 1;
    return {
      imagesByAuthor,
      quotaByUser: Object.fromEntries(reservations.map((row) => [row.user_id, row.n])),
      notIndexed: visible.filter((row) => !indexedIds.has(row.id)).map((row) => row.id),
      orphanIndexRows: [...indexedIds].filter((id) => !storedIds.has(id)),
      invisible: invisible!.n,
      prepared: { users: await preparedIn(users), images: await preparedIn(images), recommendations: await preparedIn(recommendations) },
      unfinishedTransactions: unfinished!.n,
    };
  } finally {
    await Promise.all([users.end(), images.end(), recommendations.end()]);
  }
}

/** Waits until every transaction has ended and no prepared transaction is left; the consistency then. */
export async function settledConsistency(databases: Record<TransactionService, string>, timeoutMs = 20_000): Promise<Consistency> {
  let last: Consistency | undefined;
  try {
    return await waitFor('every transaction finished and nothing left prepared', async () => {
      last = await readConsistency(databases);
      const settled = last.unfinishedTransactions === 0 && last.invisible === 0 && Object.values(last.prepared).every((n) => n === 0);
      return settled ? last : undefined;
    }, { timeoutMs, intervalMs: 100 });
  } catch (error) {
    throw new Error(`not settled: ${JSON.stringify(last)}`, { cause: error });
  }
}
