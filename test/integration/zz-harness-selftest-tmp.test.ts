import { test, expect } from 'vitest';
import postgres from 'postgres';
import { integrationPostgres, integrationRedisNodes } from '../harness/context.js';
test('harness', async () => {
  const url = await integrationPostgres().createDatabase('selftest');
  const sql = postgres(url, { max: 1 });
  const [row] = await sql`show max_prepared_transactions`;
  await sql.end();
  expect(row).toEqual({ max_prepared_transactions: '20' });
  expect(integrationRedisNodes()).toHaveLength(4);
});
