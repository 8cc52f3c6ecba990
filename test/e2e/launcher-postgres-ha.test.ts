import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresHA, type PostgresHAHandle } from '../harness/postgres.js';
import { waitFor } from '../../src/platform/wait.js';

// PostgreSQL HA exactly as the launcher runs it: when the primary dies, pg_auto_failover
// promotes the standby and the services' multi-host URL follows it.
describe('PostgreSQL HA under the launcher', () => {
  let ha: PostgresHAHandle;

  beforeAll(async () => {
    ha = await startPostgresHA();
  });
  afterAll(async () => {
    await ha?.stop();
  });

  it('fails over to the standby when the primary crashes, without losing committed rows', async () => {
    const formation = await ha.waitHealthy(60_000);
    const primary = formation.find((n) => n.reportedState === 'primary')!;
    const standby = formation.find((n) => n.reportedState === 'secondary')!;
    const sql = postgres(ha.url('images'), { max: 1, onnotice: () => undefined, connect_timeout: 3 });
    try {
      await sql`create table if not exists ha_e2e (id int primary key)`;
      await sql`insert into ha_e2e values (1)`;

      // The primary crashes and stays down.
      await ha.nodes.find((n) => n.name === primary.name)!.stop('SIGKILL');

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
          await fresh`insert into ha_e2e values (2)`;
          return await fresh<Array<{ id: number }>>`select id from ha_e2e order by id`;
        } finally {
          await fresh.end();
        }
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(rows.map((r) => r.id)).toEqual([1, 2]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('brings a stopped node back as the standby, and restarts a SIGKILLed one until the pair is healthy again', async () => {
    // The previous test left the old primary stopped.
    for (const stopped of ha.nodes.filter((n) => n.status().state === 'stopped')) await stopped.start();
    const healed = await ha.waitHealthy(90_000);
    expect(healed.map((n) => n.reportedState).sort()).toEqual(['primary', 'secondary']);

    // A crash drill: SIGKILL the standby (pg_autoctl and its postgres); the supervisor restarts it.
    const standby = healed.find((n) => n.reportedState === 'secondary')!;
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
