import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostgresHA, type PostgresHAHandle } from '../harness/postgres.js';
import { waitFor } from '../../src/platform/wait.js';

// PostgreSQL HA exactly as the launcher runs it: when the primary dies, pg_auto_failover
// promotes the standby and the services' multi-host URL follows it. One formation for the file
// (a base backup takes a while); every test starts from a healthy pair and leaves one, so the
// tests hold in any order and alone.
/** Runs `fn` on a new one-connection client (1 s connect timeout), closed afterwards. */
async function withFreshConnection<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 0 }).catch(() => undefined);
  }
}

describe('PostgreSQL HA under the launcher', () => {
  let ha: PostgresHAHandle;

  beforeAll(async () => {
    ha = await startPostgresHA();
  });
  beforeEach(async () => {
    // A test that failed half-way may have left a node stopped: start it and wait for the pair.
    for (const stopped of ha.nodes.filter((n) => n.status().state === 'stopped')) await stopped.start();
    await ha.waitHealthy(90_000);
  });
  afterAll(async () => {
    await ha?.stop();
  });

  it('fails over to the standby when the primary crashes, without losing committed rows; the old primary returns as the standby', async () => {
    const formation = await ha.waitHealthy(60_000);
    const primary = formation.find((n) => n.reportedState === 'primary')!;
    const standby = formation.find((n) => n.reportedState === 'secondary')!;
    const table = `ha_e2e_${randomBytes(4).toString('hex')}`;
    const sql = postgres(ha.url('images'), { max: 1, onnotice: () => undefined, connect_timeout: 3 });
    try {
      await sql`create table ${sql(table)} (id int primary key)`;
      await sql`insert into ${sql(table)} values (1)`;

      // The primary crashes and stays down.
      const crashed = ha.nodes.find((n) => n.name === primary.name)!;
      await crashed.stop('SIGKILL');

      const promoted = await waitFor('the standby to be promoted', async () => {
        const nodes = await ha.state().catch(() => []);
        const node = nodes.find((n) => n.name === standby.name);
        return node && ['wait_primary', 'primary', 'single'].includes(node.reportedState) ? node : undefined;
      }, { timeoutMs: 90_000, intervalMs: 500 });
      expect(promoted.port).toBe(standby.port);

      // The same multi-host URL now reaches the new primary; the committed row survived.
      const rows = await waitFor('a write through the multi-host URL', async () => {
        const fresh = postgres(ha.url('images'), { max: 1, onnotice: () => undefined, connect_timeout: 3 });
        try {
          await fresh`insert into ${fresh(table)} values (2)`;
          return await fresh<Array<{ id: number }>>`select id from ${fresh(table)} order by id`;
        } finally {
          await fresh.end();
        }
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(rows.map((r) => r.id)).toEqual([1, 2]);

      // Started again, the crashed node rejoins as the standby of the new primary.
      await crashed.start();
      const healed = await ha.waitHealthy(90_000);
      expect(healed.find((n) => n.name === primary.name)?.reportedState).toBe('secondary');
      expect(healed.find((n) => n.name === standby.name)?.reportedState).toBe('primary');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('SIGSTOP freezes the whole node, open connections included, and SIGCONT thaws it', async () => {
    const formation = await ha.waitHealthy(60_000);
    // The standby: freezing it for a moment starts no failover.
    const standby = formation.find((n) => n.reportedState === 'secondary')!;
    const node = ha.nodes.find((n) => n.name === standby.name)!;
    const sql = postgres(node.url('postgres'), { max: 1, onnotice: () => undefined });
    try {
      await sql`select 1`; // the connection (a backend that called setsid) is open
      node.signal('SIGSTOP');
      let answered = false;
      const query = sql`select 1 as one`.then((rows) => {
        answered = true;
        return rows;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(answered, 'a query on an open connection to a frozen node must hang').toBe(false);
      node.signal('SIGCONT');
      const rows = await query;
      expect(rows[0]?.one).toBe(1);
    } finally {
      node.signal('SIGCONT');
      await sql.end({ timeout: 1 });
    }
  });

  it('replaces a primary frozen whole (SIGSTOP) within 10 s; thawed, it returns as the standby', async () => {
    const formation = await ha.waitHealthy(60_000);
    const primary = formation.find((n) => n.reportedState === 'primary')!;
    const standby = formation.find((n) => n.reportedState === 'secondary')!;
    const frozen = ha.nodes.find((n) => n.name === primary.name)!;
    const table = `ha_freeze_${randomBytes(4).toString('hex')}`;
    await withFreshConnection(ha.url('images'), (sql) => sql`create table ${sql(table)} (id int primary key)`);
    const frozenAt = Date.now();
    frozen.signal('SIGSTOP');
    // A client of the services' multi-host URL with no connection open yet: each new connection
    // tries the next host (the frozen node still accepts TCP, so a try there waits out the
    // 1 s connect timeout; the standby is refused until it is promoted).
    const client = postgres(ha.url('images'), { max: 1, onnotice: () => undefined, connect_timeout: 1 });
    try {
      await waitFor('a write on the new primary', async () => {
        await client`insert into ${client(table)} values (1)`;
        return true;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      const pauseMs = Date.now() - frozenAt;
      console.log(`frozen primary replaced: writes resumed ${pauseMs} ms after the freeze`);
      expect(pauseMs).toBeLessThanOrEqual(10_000);
      const promoted = (await ha.state()).find((n) => n.name === standby.name);
      expect(['wait_primary', 'primary']).toContain(promoted?.assignedState);
    } finally {
      frozen.signal('SIGCONT');
      await client.end({ timeout: 0 }).catch(() => undefined);
    }
    const healed = await ha.waitHealthy(90_000);
    expect(healed.find((n) => n.name === primary.name)?.reportedState).toBe('secondary');
  });

  it('restarts a SIGKILLed standby until the pair is healthy again', async () => {
    const formation = await ha.waitHealthy(60_000);
    // A crash drill: SIGKILL the standby (pg_autoctl and its postgres); the supervisor restarts it.
    const standby = formation.find((n) => n.reportedState === 'secondary')!;
    const node = ha.nodes.find((n) => n.name === standby.name)!;
    const restartsBefore = node.status().restarts;
    await node.kill();
    await waitFor('the standby restarted', async () => node.status().restarts > restartsBefore && node.status().state === 'ready', { timeoutMs: 60_000, intervalMs: 100 });
    const again = await ha.waitHealthy(90_000);
    expect(again.find((n) => n.name === standby.name)?.reportedState).toBe('secondary');
    const sql = postgres(node.url('images'), { max: 1, onnotice: () => undefined });
    try {
      const [row] = await sql<Array<{ recovery: boolean }>>`select pg_is_in_recovery() as recovery`;
      expect(row?.recovery).toBe(true);
    } finally {
      await sql.end();
    }
  });
});
