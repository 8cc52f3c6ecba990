import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import { createHttpServer } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { notFound } from '../../src/platform/errors.js';
import { registerCacheMetrics } from '../../src/platform/cache/cache-metrics.js';
import type { CacheRing, CacheRingEventName, CacheRingEvents } from '../../src/platform/cache/cache-ring.js';
import { createDiscoveryTransport, type DiscoveryTransport } from '../../src/platform/rpc/discovery-transport.js';
import { createMetricsServer } from '../../src/platform/metrics-server.js';
import { discoveryAudience, serviceAuthHeaders } from '../../src/platform/service-auth.js';
import { buildDiscoveryApp } from '../../src/discovery/app.js';
import { createAuthCheck } from '../../src/gateway/auth-check.js';
import { usersHandlers } from '../../src/users/handlers.js';
import { transactionMetrics } from '../../src/images/transaction-metrics.js';
import type { TransactionLog } from '../../src/images/transaction-log.repository.js';
import { registerStalePreparedGauge } from '../../src/platform/db/two-phase.js';
import type { AccountsDeps } from '../../src/users/accounts.js';
import { inMemorySharedState } from '../fakes/shared-state.js';
import { manualClock } from '../fakes/manual-clock.js';
import type { GatewayDeps } from '../../src/gateway/deps.js';
import { freePort } from '../../src/platform/ports.js';
import { waitFor } from '../../src/platform/wait.js';
import { integrationPostgres, integrationRedisNodes } from '../harness/context.js';
import { requirePrometheus } from '../harness/prometheus.js';
import { postgresExporterSpecs, redisExporterSpecs } from '../../src/launcher/exporters.js';
import { loadOrCreateSecrets } from '../../src/launcher/secrets.js';
import { secureDatabases } from '../../src/launcher/postgres.js';
import { exporterRole } from '../../src/launcher/postgres-ha.js';
import { exporterRedisCommands, exporterRedisUser } from '../../src/launcher/redis-config.js';
import { Redis } from 'ioredis';
import { resolveLayout } from '../../src/launcher/layout.js';
import { alertRuleFiles } from '../../src/launcher/prometheus.js';
import { parse as parseYaml } from 'yaml';
import { createDatabase, failoverProbeOf, registerFailoverMetrics, registerReplicationLagMetric, type Sql } from '../../src/platform/db/database.js';
import { testClusterSecret, testCredentials } from '../support/credentials.js';

// Every query of the provisioned Grafana dashboard is run against a real Prometheus that has
// scraped real Easel metrics endpoints, so a typo, a renamed metric or a label that does not
// exist shows up here rather than as an empty panel in production.
//
// The scraped "processes" are Fastify servers built with the platform's own createHttpServer
// (http_request_duration_seconds, default process metrics), the real discovery app, and the
// real cache-ring metrics fed by a stub ring. RPC, breaker, token-check and account-event metrics
// are declared by the real RPC transport, auth check and users handlers; the test feeds them samples with the labels the
// dashboard groups by, and prom-client refuses a label the declaration lacks, so a renamed
// label fails here too.
//
// The PostgreSQL and Redis rows come from the real exporters (Debian's prometheus-postgres-exporter
// and prometheus-redis-exporter), started with the launcher's own specs against the integration
// tier's PostgreSQL and one of its Redis nodes, and scraped under the launcher's job names.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const provisioningDir = join(repoRoot, 'deploy/grafana/provisioning');
const dashboardFile = join(provisioningDir, 'dashboards/easel.json');

/** Metrics the dashboard may show before their module is written (keep this empty once they land). */
const pendingMetrics = new Set<string>();

/** Grafana's own variables, with values that fit a 1 s scrape interval. */
const builtinVariables: Record<string, string> = { __rate_interval: '30s', __interval: '1s', __range: '1m' };

interface Target { refId: string; expr: string; legendFormat?: string; datasource?: { type?: string; uid?: string } }
interface Panel { id: number; type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: Panel[] }
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; allValue?: string; datasource?: { uid?: string } }> };
}

const logger = createLogger({ name: 'grafana-dashboards-test', level: 'silent' });

let dashboard: Dashboard;
let queryPanels: Array<{ panel: Panel; target: Target }>;
let workDir: string;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let prometheusLog = '';
const apps: FastifyInstance[] = [];
let traffic: NodeJS.Timeout | undefined;
let transport: DiscoveryTransport | undefined;
let database: Sql | undefined;
const exporterProcesses: ChildProcess[] = [];

beforeAll(async () => {
  dashboard = JSON.parse(await readFile(dashboardFile, 'utf8')) as Dashboard;
  queryPanels = allPanels(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));

  const prometheusBinary = requirePrometheus().prometheus;
  const exporters = await startExporters();
  const dataStoreExporters = await startDataStoreExporters();
  workDir = await mkdtemp(join(tmpdir(), 'easel-prometheus-'));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  await writeFile(join(workDir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: easel-test',
    '    static_configs:',
    `      - targets: [${exporters.map((address) => `"${address}"`).join(', ')}]`,
    ...dataStoreExporters.flatMap((target) => [`  - job_name: ${target.job}`, '    static_configs:', `      - targets: ["${target.address}"]`, '        labels:', `          node: ${target.node}`]),
    '',
  ].join('\n'));
  const targetCount = exporters.length + dataStoreExporters.length;
  prometheus = spawn(prometheusBinary, [
    `--config.file=${join(workDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(workDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog = (prometheusLog + chunk.toString()).slice(-4000)));
  const exited = new Promise<never>((_resolve, reject) => {
    prometheus?.once('error', (error) => reject(new Error(`cannot start ${prometheusBinary}: ${error.message}`)));
    prometheus?.once('exit', (code) => reject(new Error(`prometheus exited with ${code}: ${prometheusLog}`)));
  });
  exited.catch(() => undefined);

  // Rates need at least two samples per series inside the window; wait for several scrapes of every target.
  await Promise.race([
    exited,
    waitFor('several scrapes of every exporter', async () => {
      const result = await instantQuery('count_over_time(up[1m]) >= 4');
      return result.status === 'success' && result.data.result.length === targetCount;
    }, { timeoutMs: 20_000, intervalMs: 250 }),
  ]);
}, 60_000);

afterAll(async () => {
  if (traffic) clearInterval(traffic);
  await stopPrometheus();
  await Promise.all(exporterProcesses.map(stopChild));
  await transport?.close();
  await database?.end({ timeout: 1 });
  await Promise.allSettled(apps.map((app) => app.close()));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('Grafana provisioning (deploy/grafana)', () => {
  it('every panel query parses and evaluates in Prometheus, and returns data', async () => {
    expect(queryPanels.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const { panel, target } of queryPanels) {
      const expr = substituteVariables(target.expr);
      const answer = await instantQuery(expr);
      if (answer.status !== 'success') failures.push(`"${panel.title}" ${target.refId}: ${answer.error ?? 'query failed'} in ${expr}`);
      else if (answer.data.result.length === 0) failures.push(`"${panel.title}" ${target.refId}: no data for ${expr}`);
      else {
        // A panel grouped or labelled by a label the series do not carry shows one nameless line.
        for (const label of labelsShownBy(target)) {
          if (!answer.data.result.some((series) => label in series.metric)) failures.push(`"${panel.title}" ${target.refId}: no series has label "${label}" in ${expr}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('every metric a panel uses is exported by an Easel module or a real exporter (or listed as pending), so renames break this test', async () => {
    const defined = await knownMetricNames();
    const scraped = new Set(await labelValues('__name__'));
    const problems: string[] = [];
    for (const { panel, target } of queryPanels) {
      for (const name of metricNamesIn(target.expr)) {
        if (!defined.has(baseMetricName(name)) && !defined.has(name)) problems.push(`"${panel.title}": ${name} is defined by no module in src/ and no exporter exports it`);
        if (!scraped.has(name)) problems.push(`"${panel.title}": ${name} is not exported by this test, so its panel is unchecked`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the dashboard has PostgreSQL and Redis rows with a series per node from the real exporters', async () => {
    const titles = allPanels(dashboard.panels).map((panel) => panel.title);
    expect(titles).toEqual(expect.arrayContaining([
      'PostgreSQL connections by node and database', 'PostgreSQL transactions/s by node', 'PostgreSQL locks by mode', 'PostgreSQL replication role and standbys',
      'PostgreSQL replication lag', 'PostgreSQL prepared transactions', 'Redis memory by node', 'Redis hit ratio by node', 'Redis evictions by node', 'Redis connected clients and node up',
    ]));
    // The exporters really reach their nodes: these are not just series that exist at 0.
    expect((await instantQuery('pg_up{job="postgres"} == 1')).data.result.map((series) => series.metric.node)).toEqual(['postgres-1']);
    expect((await instantQuery('redis_up{job="redis"} == 1')).data.result.map((series) => series.metric.node)).toEqual(['redis-1']);
    expect((await instantQuery('easel_pg_replication_in_recovery{node="postgres-1"} == 0')).data.result).toHaveLength(1);
    expect((await instantQuery('redis_memory_used_bytes{node="redis-1"} > 0')).data.result).toHaveLength(1);
  });

  it('every metric an alert rule uses is exported by an Easel module or a real exporter, so renames break the rules too', async () => {
    const defined = await knownMetricNames();
    const problems: string[] = [];
    for (const file of alertRuleFiles()) {
      const rules = (parseYaml(await readFile(file, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> }).groups.flatMap((group) => group.rules);
      for (const rule of rules) {
        for (const name of metricNamesIn(rule.expr)) {
          if (!defined.has(baseMetricName(name)) && !defined.has(name)) problems.push(`${file} ${rule.alert ?? rule.record}: ${name} is defined by no module in src/ and no exporter exports it`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('panels use only provisioned datasources and declared variables', async () => {
    const provisioned = await provisionedDatasourceUids();
    expect(provisioned.length).toBeGreaterThan(0);
    const declared = new Set(dashboard.templating.list.map((variable) => variable.name));
    const problems: string[] = [];
    for (const variable of dashboard.templating.list) {
      if (variable.datasource?.uid && !provisioned.includes(variable.datasource.uid)) problems.push(`variable ${variable.name}: datasource ${variable.datasource.uid} is not provisioned`);
    }
    for (const panel of allPanels(dashboard.panels)) {
      if (panel.type === 'row') continue;
      const uids = [panel.datasource?.uid, ...(panel.targets ?? []).map((target) => target.datasource?.uid)];
      for (const uid of uids) if (uid === undefined || !provisioned.includes(uid)) problems.push(`"${panel.title}": datasource ${uid} is not provisioned`);
      for (const target of panel.targets ?? []) {
        for (const name of variablesIn(target.expr)) {
          if (!(name in builtinVariables) && !declared.has(name)) problems.push(`"${panel.title}" ${target.refId}: variable $${name} is not declared`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the dashboard provider reads the folder docker compose mounts, and panel ids are unique', async () => {
    const providers = await readFile(join(provisioningDir, 'dashboards/dashboards.yml'), 'utf8');
    const compose = await readFile(join(repoRoot, 'deploy/docker-compose.yml'), 'utf8');
    expect(compose).toContain('./grafana/provisioning:/etc/grafana/provisioning');
    expect(providers).toMatch(/path:\s*\/etc\/grafana\/provisioning\/dashboards\s*$/m);
    const ids = allPanels(dashboard.panels).map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

// --- the scraped processes ---------------------------------------------------------------------

/** Starts the metrics endpoints Prometheus scrapes and keeps traffic flowing; returns their addresses. */
async function startExporters(): Promise<string[]> {
  // An Easel service process: HTTP routes, cache ring, RPC client.
  const serviceMetrics = createMetricsRegistry('gateway-test');
  const service = createHttpServer({ logger, metrics: serviceMetrics });
  service.get('/ok', async () => ({ ok: true }));
  service.get('/missing', async () => {
    throw notFound('no such image');
  });
  service.get('/boom', async () => {
    throw new Error('database went away');
  });
  const ring = stubCacheRing(['cache-1', 'cache-2', 'cache-3', 'cache-4']);
  registerCacheMetrics(ring, serviceMetrics);
  // Declares gateway_auth_checks_total; nothing is checked, so the users client is never called.
  createAuthCheck({ users: {} as GatewayDeps['users'], sharedState: inMemorySharedState(), logger, metrics: serviceMetrics });

  // A discovery replica with an injected clock, so one lease can run out at once.
  const clock = manualClock(Date.now());
  const discoveryMetrics = createMetricsRegistry('discovery-test');
  const { app: discovery, metricsApp: discoveryMetricsApp, registry } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-test', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'] },
    logger,
    metrics: discoveryMetrics,
    clock,
    sweepIntervalMs: 60_000,
  });
  const as = (service: string) => ({ [serviceAuthHeaders.service]: testCredentials(service).tokenFor(discoveryAudience) });
  const register = (serviceName: string, host: string) => discovery.inject({ method: 'POST', url: '/service', headers: as(serviceName), payload: { serviceName, host } });
  await register('IMAGE SERVICE', '127.0.0.1:7001');
  clock.advance(6_000);
  registry.expire();
  await register('USER SERVICE', '127.0.0.1:7002');
  await register('IMAGE SERVICE', '127.0.0.1:7003');

  // A users service process; its handlers declare users_auth_events_total (no handler is called).
  const usersMetrics = createMetricsRegistry('users-test');
  const users = createHttpServer({ logger, metrics: usersMetrics });
  usersHandlers({} as AccountsDeps, 1, usersMetrics);

  // An images service process: the upload transactions' metrics (fed below) and the stale
  // prepared transactions gauge every participant exports.
  const imagesMetrics = createMetricsRegistry('images-test');
  const openLog = { openSummary: async () => [{ protocol: 'saga', open: 1, oldestSeconds: 12 }] } as unknown as TransactionLog;
  const transactions = transactionMetrics(imagesMetrics, openLog, manualClock(Date.now()));
  transactions.finished('saga', 'upload', 'done', 0.05);
  transactions.finished('2pc', 'delete', 'aborted', 0.2);
  transactions.recovered('saga', 'upload', 'compensated');
  transactions.inFlight('2pc', 'upload', 1);
  await transactions.step('saga', 'reserve', async () => undefined);
  registerStalePreparedGauge(imagesMetrics, 'images', async () => 0);

  apps.push(service, discovery, users);
  const listen = async (app: FastifyInstance) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    return `127.0.0.1:${address.port}`;
  };
  for (const app of apps) await listen(app);
  // What Prometheus scrapes: each process's metrics port (discovery's is closed with it).
  const metricsApps = [createMetricsServer({ metrics: serviceMetrics }), discoveryMetricsApp, createMetricsServer({ metrics: usersMetrics }), createMetricsServer({ metrics: imagesMetrics })];
  const addresses: string[] = [];
  for (const app of metricsApps) addresses.push(await listen(app));
  apps.push(metricsApps[0]!, metricsApps[2]!, metricsApps[3]!);
  // The RPC transport of the service process declares the rpc_client_* metrics.
  const discoveryAddress = `127.0.0.1:${(discovery.server.address() as { port: number }).port}`;
  transport = createDiscoveryTransport({ credentials: testCredentials(), discovery: [discoveryAddress], mode: 'snapshot', logger, metrics: serviceMetrics });
  const declared = <T>(name: string, registry = serviceMetrics): T => {
    const metric = registry.getSingleMetric(name);
    if (!metric) throw new Error(`no module declares ${name} any more`);
    return metric as T;
  };
  const fed = {
    calls: declared<Counter>('rpc_client_calls_total'),
    retries: declared<Counter>('rpc_client_retries_total'),
    retryBudgetExhausted: declared<Counter>('rpc_client_retry_budget_exhausted_total'),
    breakerState: declared<Gauge>('rpc_client_breaker_state'),
    breakerTransitions: declared<Counter>('rpc_client_breaker_transitions_total'),
    duration: declared<Histogram>('rpc_client_call_duration_seconds'),
    authChecks: declared<Counter>('gateway_auth_checks_total'),
    accountEvents: declared<Counter>('users_auth_events_total', usersMetrics),
  };
  // The real replication-lag gauge, read from the integration tier's PostgreSQL (no standby: 0).
  database = createDatabase({ url: integrationPostgres().adminUrl, logger, maxConnections: 1 });
  registerReplicationLagMetric(database, serviceMetrics);
  // The real failover metrics, fed one outage the way the ride-through reports it.
  registerFailoverMetrics(database, serviceMetrics);
  failoverProbeOf(database)?.noteUnavailable?.();
  failoverProbeOf(database)?.noteAvailable?.();
  fed.breakerState.set({ service: 'IMAGE SERVICE', endpoint: '127.0.0.1:7003' }, 0);
  fed.breakerState.set({ service: 'USER SERVICE', endpoint: '127.0.0.1:7002' }, 1);
  fed.breakerTransitions.inc({ service: 'USER SERVICE', endpoint: '127.0.0.1:7002', state: 'open' });
  // A report from a caller whose breaker opened (counted by discovery_tripped_reports_total).
  await discovery.inject({ method: 'POST', url: '/service/report', headers: as('GATEWAY'), payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:7002' } });

  const generate = async () => {
    clock.advance(200);
    registry.heartbeat('USER SERVICE', '127.0.0.1:7002');
    registry.heartbeat('IMAGE SERVICE', '127.0.0.1:7003');
    await Promise.all([
      service.inject('/ok'), service.inject('/ok'), service.inject('/missing'), service.inject('/boom'), users.inject('/health'),
      discovery.inject({ url: '/services', headers: as('GATEWAY') }), discovery.inject({ url: '/service?serviceName=NO%20SUCH%20SERVICE', headers: as('GATEWAY') }),
    ]);
    ring.emit('hit', { node: 'cache-1', key: 'image:1' });
    ring.emit('hit', { node: 'cache-2', key: 'image:2' });
    ring.emit('miss', { node: 'cache-3', key: 'image:3' });
    ring.emit('error', { node: 'cache-4', operation: 'get', error: new Error('timeout') });
    fed.calls.inc({ service: 'USER SERVICE', outcome: 'ok' });
    fed.calls.inc({ service: 'IMAGE SERVICE', outcome: 'error' });
    fed.retries.inc({ service: 'IMAGE SERVICE', reason: 'unavailable' });
    fed.retryBudgetExhausted.inc({ service: 'IMAGE SERVICE' });
    fed.duration.observe({ service: 'USER SERVICE' }, 0.004);
    fed.authChecks.inc({ outcome: 'valid' });
    fed.authChecks.inc({ outcome: 'invalid' });
    fed.accountEvents.inc({ event: 'login', outcome: 'ok' });
    fed.accountEvents.inc({ event: 'login', outcome: 'unauthenticated' });
  };
  await generate();
  traffic = setInterval(() => void generate().catch(() => undefined), 200);
  return addresses;
}

/**
 * The launcher's own exporter specs, pointed at the integration tier's PostgreSQL and its first
 * Redis node; returns the targets as the launcher's Prometheus configuration names them.
 */
async function startDataStoreExporters(): Promise<Array<{ job: string; node: string; address: string }>> {
  const pg = new URL(integrationPostgres().adminUrl);
  const redisNode = integrationRedisNodes()[0]!;
  const [pgExporterPort, redisExporterPort] = [await freePort(), await freePort()];
  // The exporters log in as the launcher makes them (exporterCredentials): give the shared
  // servers the same roles, with passwords from a throwaway secrets folder.
  const dataDir = await mkdtemp(join(tmpdir(), 'easel-exporters-'));
  const secrets = loadOrCreateSecrets(dataDir);
  await secureDatabases(integrationPostgres().adminUrl, {
    superuserPassword: decodeURIComponent(pg.password),
    roles: [{ role: exporterRole, password: secrets['postgres-exporter-password'], memberOf: ['pg_monitor'] }],
    databases: [],
  });
  const redisAdmin = new Redis({ host: redisNode.host, port: redisNode.port, lazyConnect: true });
  await redisAdmin.connect();
  await redisAdmin.call('ACL', 'SETUSER', exporterRedisUser, 'on', `>${secrets['redis-exporter-password']}`, '-@all', ...exporterRedisCommands.map((c) => `+${c}`));
  redisAdmin.disconnect();
  const layout = resolveLayout({
    dataDir,
    host: '127.0.0.1',
    postgres: { primaryPort: Number(pg.port) },
    redis: { ports: [redisNode.port] },
    exporters: { enabled: true, postgres: { primaryPort: pgExporterPort }, redis: { ports: [redisExporterPort] } },
    prometheus: { enabled: false },
  });
  const specs = [postgresExporterSpecs(layout).find((spec) => spec.instance === 'postgres-1-exporter')!, redisExporterSpecs(layout)[0]!];
  for (const spec of specs) {
    const launch = await spec.launch();
    const child = spawn(launch.command, launch.args, { env: { ...process.env, ...launch.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-2000)));
    child.once('error', () => undefined);
    exporterProcesses.push(child);
    // The launcher's readiness probe: the exporter answers and reaches its node.
    await waitFor(`${spec.instance} (${launch.command}; installed by "make deps")`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${spec.instance} exited: ${log}`);
      return (await spec.ready()) || undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
  }
  return [
    { job: 'postgres', node: 'postgres-1', address: `127.0.0.1:${pgExporterPort}` },
    { job: 'redis', node: 'redis-1', address: `127.0.0.1:${redisExporterPort}` },
  ];
}

type StubRing = Pick<CacheRing, 'on' | 'nodeStates'> & { emit<E extends CacheRingEventName>(event: E, payload: CacheRingEvents[E]): void };

function stubCacheRing(nodes: string[]): StubRing {
  const listeners = new Map<string, Array<(payload: never) => void>>();
  return {
    nodeStates: () => nodes.map((name, i) => ({ name, address: `127.0.0.1:${6380 + i}`, state: name === 'cache-4' ? 'down' : 'up', since: 0, keyShare: 1 / nodes.length })),
    on(event, listener) {
      const list = listeners.get(event) ?? [];
      list.push(listener as (payload: never) => void);
      listeners.set(event, list);
      return () => listeners.set(event, (listeners.get(event) ?? []).filter((l) => l !== listener));
    },
    emit(event, payload) {
      for (const listener of listeners.get(event) ?? []) (listener as (p: typeof payload) => void)(payload);
    },
  };
}

// --- Prometheus ----------------------------------------------------------------------------------

interface QueryAnswer { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string> }> } }

async function instantQuery(expr: string): Promise<QueryAnswer> {
  const response = await fetch(`${prometheusUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }).toString(),
  });
  return (await response.json()) as QueryAnswer;
}

async function labelValues(label: string, match?: string): Promise<string[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/label/${label}/values${match ? `?match[]=${encodeURIComponent(match)}` : ''}`);
  return ((await response.json()) as { data: string[] }).data;
}

async function stopPrometheus(): Promise<void> {
  if (prometheus) await stopChild(prometheus);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// --- reading the dashboard and the code --------------------------------------------------------

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

/** Names of Grafana variables used in an expression: $name, ${name}, ${name:format}, [[name]]. */
function variablesIn(expr: string): string[] {
  return [...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

/** Replaces variables the way Grafana would with "All" selected. */
function substituteVariables(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    if (name in builtinVariables) return builtinVariables[name] as string;
    const variable = dashboard.templating.list.find((v) => v.name === name);
    return variable ? (variable.allValue ?? '.*') : whole;
  });
}

const promqlKeywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'Inf', 'NaN']);

/** Metric names in a PromQL expression (identifiers that are not functions, keywords, labels or durations). */
function metricNamesIn(expr: string): string[] {
  const stripped = substituteVariables(expr)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith('(') || promqlKeywords.has(match[0])) continue;
    names.add(match[0]);
  }
  return [...names];
}

/** Labels a target groups by (`by (...)`, except the histogram's le) or names in its legend (`{{label}}`). */
function labelsShownBy(target: Target): string[] {
  const labels = new Set<string>();
  for (const match of target.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const label of (match[1] as string).split(',').map((l) => l.trim())) if (label && label !== 'le') labels.add(label);
  }
  for (const match of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) labels.add(match[1] as string);
  return [...labels];
}

function baseMetricName(name: string): string {
  return name.replace(/_(bucket|count|sum)$/, '');
}

/** Metric names declared in src/ (`name: 'x'` inside a prom-client constructor). */
async function metricNamesDefinedInSource(): Promise<string[]> {
  const srcDir = join(repoRoot, 'src');
  const files = (await readdir(srcDir, { recursive: true })).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  const names: string[] = [];
  for (const file of files) {
    const text = await readFile(join(srcDir, file), 'utf8');
    for (const match of text.matchAll(/new (?:\w+\.)?(?:Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\{[^}]*?name: '([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) names.push(match[1] as string);
  }
  return names;
}

/** Metric names a panel or rule may use: declared in src/, Node's defaults, or exported by the real exporters scraped here. */
async function knownMetricNames(): Promise<Set<string>> {
  const fromExporters = await labelValues('__name__', '{job=~"postgres|redis"}');
  return new Set([...(await metricNamesDefinedInSource()), ...defaultMetricNames(), 'up', ...fromExporters, ...pendingMetrics]);
}

function defaultMetricNames(): string[] {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().map((metric) => metric.name);
}

/** uids in deploy/grafana/provisioning/datasources/*.yml (no YAML parser is installed; uids are plain scalars). */
async function provisionedDatasourceUids(): Promise<string[]> {
  const dir = join(provisioningDir, 'datasources');
  const uids: string[] = [];
  for (const file of (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f))) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const match of text.matchAll(/^\s*uid:\s*["']?([\w.-]+)["']?\s*$/gm)) uids.push(match[1] as string);
  }
  return uids;
}
