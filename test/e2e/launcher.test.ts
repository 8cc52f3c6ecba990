import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/launcher/paths.js';
import { showPgAutoctlState } from '../../src/launcher/postgres-ha.js';
import { startTestCluster, type TestCluster } from '../harness/cluster.js';
import { requirePrometheus, scrapingPrometheus } from '../harness/prometheus.js';
import { waitFor } from '../../src/platform/wait.js';

const run = promisify(execFile);
const cli = join(repoRoot(), 'dist', 'src', 'launcher', 'cli.js');

/** Processes (not zombies) still alive in any of these process groups. */
function livingMembersOf(groups: Set<number>): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z' && groups.has(Number(pgrp))) found.push(`${name} ${stat.slice(0, stat.lastIndexOf(')') + 1)}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

const exportersInstalled = existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/prometheus-postgres-exporter') && existsSync('/usr/bin/prometheus-redis-exporter');
const dataNodes = ['postgres-monitor', 'postgres-1', 'postgres-2', 'redis-1', 'redis-2', 'redis-3', 'redis-4'];

describe('the launcher runs the whole cluster', () => {
  let cluster: TestCluster;
  const groups = new Set<number>();

  interface Target { labels: Record<string, string>; health: string }
  const prometheusTargets = async (): Promise<Target[]> =>
    ((await (await fetch(`${cluster.prometheusUrl}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
  /** The labels of every series an instant query returns. */
  const seriesOf = async (query: string): Promise<Array<Record<string, string>>> => {
    const answer = (await (await fetch(`${cluster.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data: { result: Array<{ metric: Record<string, string> }> } };
    return answer.data.result.map((series) => series.metric);
  };
  /** The `node` label of every series an instant query returns. */
  const nodesWhere = async (query: string): Promise<string[]> => (await seriesOf(query)).map((metric) => metric.node ?? '');

  beforeAll(async () => {
    expect(existsSync(cli), 'run "npm run build" before the e2e tests').toBe(true);
    requirePrometheus();
    cluster = await startTestCluster({ layout: { prometheus: scrapingPrometheus }, keepData: false });
    for (const p of cluster.status()) if (p.pid) groups.add(p.pid);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('brings every process to ready, with the URLs answering', async () => {
    const processes = cluster.status();
    const names = processes.map((p) => p.instance);
    expect(names).toEqual(expect.arrayContaining([
      'redis-1', 'redis-2', 'redis-3', 'redis-4', 'postgres-monitor', 'postgres-1', 'postgres-2',
      'discovery-1', 'discovery-2', 'users-1', 'users-2', 'images-1', 'images-2', 'recommendations-1', 'recommendations-2', 'gateway-1',
      ...(exportersInstalled ? dataNodes.map((node) => `${node}-exporter`) : []),
    ]));
    expect(processes.filter((p) => p.state !== 'ready')).toEqual([]);
    const health = await fetch(`${cluster.gatewayUrl}/health`);
    expect(health.status).toBe(200);
    for (const url of cluster.discoveryUrls) expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(cluster.startupMs).toBeGreaterThan(0);
  });

  it('runs every Node service on Node.js 24 or later', async () => {
    const services = cluster.status().filter((p) => ['discovery', 'users', 'images', 'recommendations', 'gateway'].includes(p.kind));
    expect(services.map((p) => p.kind)).toEqual(expect.arrayContaining(['discovery', 'users', 'images', 'recommendations', 'gateway']));
    for (const p of services) {
      // The binary the running process was started from, whatever PATH says now.
      const exe = readlinkSync(`/proc/${p.pid}/exe`);
      const { stdout } = await run(exe, ['-p', 'process.versions.node']);
      expect(Number(stdout.split('.')[0]), `${p.instance} runs ${exe} ${stdout.trim()}`).toBeGreaterThanOrEqual(24);
    }
  });

  it('has Prometheus scraping every registered instance, found through discovery', async () => {
    expect(cluster.prometheusUrl).toBeTruthy();
    // Scraped on their metrics ports: discovery lists each instance by its API address (label
    // `instance`); discovery and the gateway are static targets at their metrics addresses.
    const wanted = cluster.status().filter((p) => /^(users|images|recommendations|discovery|gateway)-/.test(p.instance))
      .map((p) => (p.kind === 'discovery' || p.kind === 'gateway' ? new URL(p.metricsUrl!).host : `${new URL(p.url).hostname}:${p.port}`));
    for (const p of cluster.status().filter((s) => /^(users|images|recommendations|discovery|gateway)-/.test(s.instance))) {
      expect(p.metricsUrl, p.instance).toBeTruthy();
      expect((await fetch(p.url.replace(/\/?$/, '/metrics'))).status, `${p.instance} serves no metrics on its API port`).not.toBe(200);
    }
    await expect.poll(async () => {
      const up = new Set((await prometheusTargets()).filter((t) => t.health === 'up').map((t) => t.labels.instance));
      return wanted.filter((address) => !up.has(address));
    }, { timeout: 30_000, interval: 500 }).toEqual([]);
    // Metrics keep their own `service` label (no target label pushes it aside to exported_service).
    await expect.poll(async () => (await seriesOf('max by (service) (discovery_registered_instances)')).map((m) => m.service).sort(), { timeout: 15_000, interval: 500 })
      .toEqual(expect.arrayContaining(['IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'USER SERVICE']));
    expect(await seriesOf('count({exported_service!=""})')).toEqual([]);
  });

  it.skipIf(!exportersInstalled)('has every PostgreSQL node and Redis node up in Prometheus, through its exporter, with the alert rules loaded', async () => {
    const exporters = cluster.status().filter((p) => p.kind === 'postgres-exporter' || p.kind === 'redis-exporter');
    expect(exporters.map((p) => [p.instance, p.state])).toEqual(dataNodes.map((node) => [`${node}-exporter`, 'ready']));
    // Every exporter is an up target labelled with its node, and each node answers its exporter.
    await expect.poll(async () => {
      const targets = await prometheusTargets();
      const upNodes = targets.filter((t) => (t.labels.job === 'postgres' || t.labels.job === 'redis') && t.health === 'up').map((t) => t.labels.node);
      const answering = [...await nodesWhere('pg_up == 1'), ...await nodesWhere('redis_up == 1')];
      return dataNodes.filter((node) => !upNodes.includes(node) || !answering.includes(node));
    }, { timeout: 30_000, interval: 500 }).toEqual([]);
    // The replication queries run on the data nodes: one primary, one standby streaming from it.
    await expect.poll(async () => (await nodesWhere('easel_pg_replication_streaming_standbys == 1 and easel_pg_replication_in_recovery == 0')).length, { timeout: 30_000, interval: 500 }).toBe(1);
    const rules = (await (await fetch(`${cluster.prometheusUrl}/api/v1/rules?type=alert`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
    const loaded = rules.data.groups.flatMap((group) => group.rules);
    expect(loaded.map((rule) => rule.name)).toEqual(expect.arrayContaining(['EaselInstanceDown', 'PostgresNoStreamingStandby', 'CacheNodeDown']));
    expect(loaded.filter((rule) => rule.health === 'err')).toEqual([]);
  });

  it('answers `easel status` through the control endpoint', async () => {
    const { stdout } = await run(process.execPath, [cli, 'status', '--json', '--data-dir', cluster.layout.dataDir]);
    const status = JSON.parse(stdout) as { processes: Array<{ instance: string; state: string }>; cacheRing: Array<{ name: string; state: string; keyShare: number }> };
    expect(status.processes.map((p) => p.state)).toEqual(cluster.status().map(() => 'ready'));
    // The cache ring: every node up, the key shares summing to the whole ring.
    expect(status.cacheRing.map((n) => [n.name, n.state])).toEqual([['cache-1', 'up'], ['cache-2', 'up'], ['cache-3', 'up'], ['cache-4', 'up']]);
    expect(status.cacheRing.reduce((sum, n) => sum + n.keyShare, 0)).toBeCloseTo(1, 6);
  });

  it('runs a real Redis ring of four nodes', async () => {
    const nodes = cluster.redisNodes.split(',').map((item) => item.split('=')[1]!);
    expect(nodes).toHaveLength(4);
    for (const address of nodes) {
      const [host, port] = address.split(':');
      const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      await redis.set('launcher-e2e', address);
      expect(await redis.get('launcher-e2e')).toBe(address);
      // A cache: nothing is persisted.
      expect(await redis.config('GET', 'save')).toEqual(['save', '']);
      redis.disconnect();
    }
  });

  it('runs PostgreSQL HA: a writable primary with a streaming synchronous standby and the service databases', async () => {
    const sql = postgres(cluster.databaseUrl('users'), { max: 1, onnotice: () => undefined });
    try {
      const [primary] = await sql<Array<{ recovery: boolean; prepared: string }>>`select pg_is_in_recovery() as recovery, current_setting('max_prepared_transactions') as prepared`;
      expect(primary).toEqual({ recovery: false, prepared: '20' });
      const databases = await sql<Array<{ datname: string }>>`select datname from pg_database where datname in ('users', 'images', 'recommendations') order by datname`;
      expect(databases.map((d) => d.datname)).toEqual(['images', 'recommendations', 'users']);
      await sql`create table if not exists launcher_e2e (id int primary key, note text)`;
      await sql`insert into launcher_e2e values (1, 'replicated') on conflict (id) do update set note = excluded.note`;
      // Once pg_auto_failover has promoted the pair to primary/secondary, replication is synchronous.
      const formation = await waitFor('primary + secondary', async () => {
        const nodes = await showPgAutoctlState(cluster.layout, cluster.config);
        const states = nodes.map((n) => n.reportedState).sort();
        return states.join(',') === 'primary,secondary' ? nodes : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });
      const replication = await waitFor('a streaming synchronous standby', async () => {
        const rows = await sql<Array<{ state: string; sync_state: string }>>`select state, sync_state from pg_stat_replication`;
        return rows.length === 1 && rows[0]!.state === 'streaming' && rows[0]!.sync_state !== 'async' ? rows : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      expect(replication).toHaveLength(1);
      const standbyNode = formation.find((n) => n.reportedState === 'secondary')!;
      const standby = postgres(`postgres://postgres@${cluster.layout.host}:${standbyNode.port}/users`, { max: 1, onnotice: () => undefined });
      try {
        const row = await waitFor('the row on the standby', async () => (await standby`select note, pg_is_in_recovery() as recovery from launcher_e2e where id = 1`)[0], { timeoutMs: 10_000 });
        expect(row).toEqual({ note: 'replicated', recovery: true });
      } finally {
        await standby.end();
      }
    } finally {
      await sql.end();
    }
  });

  it('restarts a SIGKILLed service and it becomes ready again', async () => {
    const before = cluster.status().find((p) => p.instance === 'users-1')!;
    const { stdout } = await run(process.execPath, [cli, 'kill', 'users-1', '--data-dir', cluster.layout.dataDir]);
    expect(stdout).toContain('users-1');
    await waitFor('users-1 to leave ready', async () => cluster.status().find((p) => p.instance === 'users-1')!.state !== 'ready' || undefined, { timeoutMs: 10_000, intervalMs: 10 });
    const after = await cluster.waitReady('users-1', 60_000);
    expect(after.pid).not.toBe(before.pid);
    expect(after.restarts).toBe(before.restarts + 1);
    expect(after.port).toBe(before.port);
    expect((await fetch(`${after.url}/health`)).status).toBe(200);
    if (after.pid) groups.add(after.pid);
  });

  it('stops gracefully and leaves no process behind', async () => {
    for (const p of cluster.status()) if (p.pid) groups.add(p.pid);
    expect(livingMembersOf(groups).length).toBeGreaterThan(0);
    await cluster.stop();
    expect(livingMembersOf(groups)).toEqual([]);
    expect(cluster.status().every((p) => p.state === 'stopped')).toBe(true);
    await expect(fetch(`${cluster.gatewayUrl}/health`)).rejects.toThrow();
  });
});
