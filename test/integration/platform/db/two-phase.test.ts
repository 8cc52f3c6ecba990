import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { integrationPostgres } from '../../../harness/context.js';
import { createDatabase } from '../../../../src/platform/db/database.js';
import { commitPrepared, isPrepared, phaseTwoDatabase, prepareTransaction, rollbackPrepared } from '../../../../src/platform/db/two-phase.js';
import { createLogger } from '../../../../src/platform/log.js';

// A participant's prepares and phase two on a real PostgreSQL, in the situation the transactions
// chaos run met: a prepared transaction holds a row (a user's quota row) that every other prepare
// needs. A prepare that outlived its coordinator's deadline used to wait for the row for ever,
// prepare at last with nobody listening, and meanwhile hold a pooled connection; once every
// connection waited so, the COMMIT / ROLLBACK PREPARED that would free the row found none.

const logger = createLogger({ name: 'two-phase-test', level: 'silent' });
const poolSize = 3;
let url: string;
let sql: Sql;
let phaseTwo: Sql;

beforeAll(async () => {
  url = await integrationPostgres().createDatabase('two_phase');
  sql = createDatabase({ url, logger, maxConnections: poolSize });
  phaseTwo = phaseTwoDatabase(sql, { url, logger });
  await sql`create table quota (user_id int primary key, used int not null)`;
  await sql`insert into quota values (1, 0)`;
});

afterAll(async () => {
  await phaseTwo`select gid from pg_prepared_xacts where database = current_database()`.then((rows) =>
    Promise.all(rows.map((row) => phaseTwo.unsafe(`rollback prepared '${row.gid as string}'`))));
  await Promise.all([sql.end({ timeout: 1 }), phaseTwo.end({ timeout: 1 })]);
});

const reserve = (txId: string, deadline?: number) => prepareTransaction(sql, 'users', txId, async (tx) => {
  await tx`select used from quota where user_id = 1 for update`;
  await tx`update quota set used = used + 1 where user_id = 1`;
}, deadline === undefined ? {} : { deadline });

describe('two-phase participant', () => {
  it('a prepare that cannot get its row by the deadline votes no, leaves nothing prepared and frees its connection', async () => {
    const holder = randomUUID();
    await reserve(holder);
    const late = randomUUID();
    const started = Date.now();
    await expect(reserve(late, Date.now() + 400)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2_000);
    // The holder finishing later does not let the late one prepare behind everybody's back.
    expect(await commitPrepared(phaseTwo, 'users', holder)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await isPrepared(sql, 'users', late)).toBe(false);
    expect((await sql`select used from quota where user_id = 1`)[0]!.used).toBe(1);
  });

  it('a prepare whose deadline passed while it worked rolls back instead of preparing', async () => {
    const txId = randomUUID();
    await expect(prepareTransaction(sql, 'users', txId, async (tx) => {
      await tx`select pg_sleep(0.3)`;
    }, { deadline: Date.now() + 100 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await isPrepared(sql, 'users', txId)).toBe(false);
  });

  it('phase two gets through while every pooled connection waits for the row it frees', async () => {
    const holder = randomUUID();
    await reserve(holder);
    // More waiting prepares than the pool has connections, each patient for 5 s.
    const waiting = Array.from({ length: poolSize + 1 }, () => reserve(randomUUID(), Date.now() + 5_000).then(() => 'prepared', () => 'refused'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    expect(await rollbackPrepared(phaseTwo, 'users', holder)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
    // Freed, one waiter gets the row and prepares (holding it in turn, as nobody finishes it
    // here); the others give up by their deadline and leave nothing prepared.
    expect((await Promise.all(waiting)).sort()).toEqual(['prepared', ...Array.from({ length: poolSize }, () => 'refused')]);
    const prepared = await phaseTwo<{ gid: string }[]>`select gid from pg_prepared_xacts where database = current_database()`;
    expect(prepared).toHaveLength(1);
    await phaseTwo.unsafe(`rollback prepared '${prepared[0]!.gid}'`);
  });
});
