import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { integrationPostgres } from '../../../harness/context.js';
import { createDatabase, failoverProbeOf, reconnectTogether } from '../../../../src/platform/db/database.js';
import { rideThroughFailover } from '../../../../src/platform/db/failover.js';
import { createLogger } from '../../../../src/platform/log.js';

// The failover probe of a service's pool on a real PostgreSQL that asks for a password, with the
// password given apart from the URL as the launcher does (DATABASE_PASSWORD). A probe that could
// not log in called every slow statement a hung server and reconnected the whole pool, cutting
// every other request in flight.

let sql: Sql;
let settings: Parameters<typeof createDatabase>[0];

beforeAll(async () => {
  const url = new URL(await integrationPostgres().createDatabase('failover_probe'));
  const password = decodeURIComponent(url.password);
  url.password = '';
  settings = { url: url.toString(), password, logger: createLogger({ name: 'failover-probe-test', level: 'silent' }) };
  sql = createDatabase(settings);
});

afterAll(async () => {
  await sql.end({ timeout: 1 });
});

describe('failover probe', () => {
  it('reaches a healthy server with the pool\'s own credentials', async () => {
    expect(await failoverProbeOf(sql)!.answers()).toBe(true);
  });

  it('lets a statement slower than the stall threshold finish, and leaves the other connections alone', async () => {
    const probe = failoverProbeOf(sql)!;
    let reconnects = 0;
    const counting = { ...probe, reconnect: () => { reconnects += 1; probe.reconnect(); } };
    // A second statement in flight on another pooled connection: a reconnect would cut it too.
    const neighbour = sql`select pg_sleep(1.2) as slept`;
    const slow = await rideThroughFailover(() => sql`select pg_sleep(1.2), 'done' as outcome`, {
      deadline: Date.now() + 10_000,
      retryMaybeExecuted: false,
      probe: counting,
      stallMs: 300,
    });
    expect(slow[0]!.outcome).toBe('done');
    expect(await neighbour).toHaveLength(1);
    expect(reconnects).toBe(0);
  });

  it('reconnects a companion pool with its main one (a hung primary holds both)', async () => {
    const main = createDatabase(settings);
    const companion = createDatabase({ ...settings, maxConnections: 2 });
    try {
      reconnectTogether(main, companion);
      const stuck = companion`select pg_sleep(5)`.then(() => 'finished', (error: { code?: string }) => error.code);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      failoverProbeOf(main)!.reconnect();
      expect(await stuck).toBe('CONNECTION_DESTROYED');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await companion`select 1 as one`)[0]!.one).toBe(1);
    } finally {
      await Promise.all([main.end({ timeout: 1 }), companion.end({ timeout: 1 })]);
    }
  });
});
