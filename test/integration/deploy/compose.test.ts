import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCommand } from '../../../src/launcher/exec.js';
import { exporterTargets } from '../../../src/launcher/exporters.js';
import { repoRoot } from '../../../src/launcher/paths.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { alertRuleFiles, commandExists, prometheusConfig } from '../../../src/launcher/prometheus.js';
import { nativeMemoryEnv, serviceEntry } from '../../../src/launcher/specs.js';
import { countByKind, easelKinds, isEaselKind, launcherTopology, requiredVariables, schemaVariables, translateAddresses, type LauncherTopology } from '../../support/deploy-topology.js';

// deploy/docker-compose.yml, as Debian's docker-compose resolves it (`docker-compose config`:
// anchors merged, variables substituted), against the launcher's layout: the same processes and
// replica counts, each on its layout port, every Easel process with the variables its config
// loader needs (read from its schema) pointing at the compose services, health checks that
// gate start order, credentials as compose secrets, and the same Prometheus jobs and rules.

interface ComposeService {
  image?: string;
  command?: string[] | string;
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  expose?: Array<string | number>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  secrets?: Array<{ source: string; target?: string }>;
  ports?: Array<string | { published?: string | number; target?: number; host_ip?: string }>;
}
interface ComposeFile { services: Record<string, ComposeService>; secrets: Record<string, { file?: string }> }

/** Services compose runs that the launcher does not. */
const composeOnly = ['grafana'];
const composeFile = join(repoRoot(), 'deploy', 'docker-compose.yml');

let compose: ComposeFile;
let topology: LauncherTopology;

beforeAll(async () => {
  if (!commandExists('docker-compose')) throw new Error('docker-compose is missing: run "make deps" (Debian package docker-compose)');
  // Neither the caller's environment nor a secrets directory changes what is checked.
  const environment: Record<string, string> = { ...loadLauncherConfig().childEnvironment };
  for (const name of ['LOG_LEVEL', 'GATEWAY_WORKERS', 'GATEWAY_PORT', 'EASEL_SECRETS_DIR', 'REDIS_MAXMEMORY']) delete environment[name];
  const result = await runCommand('docker-compose', ['-f', composeFile, 'config'], { cwd: repoRoot(), environment, timeoutMs: 60_000 });
  expect(result.code, `docker-compose config failed:\n${result.stderr}`).toBe(0);
  compose = parse(result.stdout) as ComposeFile;
  topology = await launcherTopology();
});

const commandOf = (service: ComposeService): string[] => (Array.isArray(service.command) ? service.command : service.command ? [service.command] : []);

describe('docker compose (deploy/docker-compose.yml)', () => {
  it('runs the processes of the launcher, with the same replica counts', () => {
    const launcher = topology.processes.map((p) => p.spec.instance).sort();
    expect(Object.keys(compose.services).filter((name) => !composeOnly.includes(name)).sort()).toEqual(launcher);
    const kindOf = new Map(topology.processes.map((p) => [p.spec.instance, p.spec.kind]));
    const composeKinds = Object.keys(compose.services).filter((name) => kindOf.has(name)).map((name) => kindOf.get(name)!);
    expect(countByKind(composeKinds)).toEqual(countByKind(topology.processes.map((p) => p.spec.kind)));
    expect(countByKind(composeKinds)).toMatchObject({ users: 2, images: 2, recommendations: 2, discovery: 2, gateway: 1, redis: 4, 'postgres-monitor': 1, postgres: 2, 'postgres-exporter': 3, 'redis-exporter': 4, prometheus: 1 });
  });

  it('puts every process on its layout port, and really listens there', () => {
    const problems: string[] = [];
    for (const { spec, env } of topology.processes) {
      const service = compose.services[spec.instance]!;
      const exposed = (service.expose ?? []).map(String);
      const fixed = !['users', 'images', 'recommendations'].includes(spec.kind);
      const port = fixed ? String(spec.port) : String(service.environment?.PORT);
      if (!exposed.includes(port)) problems.push(`${spec.instance}: exposes ${exposed.join(',') || 'nothing'}, the layout says ${port}`);
      // The port reaches the process: its PORT variable, or an argument or variable naming it.
      const said = [...commandOf(service), ...Object.values(service.environment ?? {}).map(String)].join(' ');
      if (isEaselKind(spec.kind) ? service.environment?.PORT !== port : !new RegExp(`(^|[^0-9])${port}([^0-9]|$)`).test(said)) problems.push(`${spec.instance}: nothing tells the process to listen on ${port}`);
      if (isEaselKind(spec.kind) && fixed && env.PORT !== port) problems.push(`${spec.instance}: the launcher uses port ${env.PORT}`);
    }
    expect(problems).toEqual([]);
  });

  it("gives every Easel process the variables its config loader needs, pointing at the compose services, and nothing it does not read", () => {
    const problems: string[] = [];
    const composeAddress = (instance: string, port: number) => `${instance}:${port}`;
    for (const { spec, env } of topology.processes) {
      if (!isEaselKind(spec.kind)) continue;
      const environment = compose.services[spec.instance]!.environment ?? {};
      const required = requiredVariables(spec.kind, env);
      expect(required.length).toBeGreaterThan(3);
      // A compose secret mounted with target NAME reaches the config loader as NAME (the image's entry point).
      const fromSecrets = new Set((compose.services[spec.instance]!.secrets ?? []).map((secret) => secret.target));
      for (const name of required) if (!fromSecrets.has(name) && (environment[name] === undefined || environment[name] === null || environment[name] === '')) problems.push(`${spec.instance}: ${name} is not set`);
      const readable = new Set(schemaVariables(spec.kind));
      for (const name of Object.keys(environment)) if (!readable.has(name)) problems.push(`${spec.instance}: ${name} is set but ${spec.kind}'s config loader does not read it`);
      // The launcher's values, with each 127.0.0.1:<port> replaced by the compose service on that port.
      for (const [name, value] of Object.entries(env)) {
        // Secrets are generated per deployment; metrics ports are free ones under the launcher and
        // fixed here (the Prometheus test below checks they are scraped).
        if (!readable.has(name) || ['LOG_LEVEL', 'GATEWAY_WORKERS', 'PORT', 'METRICS_PORT', 'DISCOVERY_PEERS'].includes(name) || fromSecrets.has(name)) continue;
        const expected = name === 'HOST' ? (spec.kind === 'gateway' ? '0.0.0.0' : spec.instance) : translateAddresses(value, topology, composeAddress);
        if (environment[name] !== expected) problems.push(`${spec.instance}: ${name} is ${JSON.stringify(environment[name])}, expected ${JSON.stringify(expected)} (the launcher's ${JSON.stringify(value)})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("runs every Easel process with the launcher's node flags for its kind, in its order, then its entry", () => {
    const actual: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const { spec, args } of topology.processes) {
      if (!isEaselKind(spec.kind)) continue;
      // The launcher's last argument is the entry; everything before it is node's flags.
      expect(args.at(-1), spec.instance).toBe(serviceEntry(spec.kind));
      expect(args.length, spec.instance).toBeGreaterThan(1);
      const command = commandOf(compose.services[spec.instance]!);
      actual[spec.instance] = { node: command[0], flags: command.slice(1, -1), entry: command.at(-1) };
      expected[spec.instance] = { node: 'node', flags: args.slice(0, -1), entry: `dist/src/${spec.kind}/main.js` };
    }
    expect(new Set(topology.processes.filter((p) => Object.hasOwn(expected, p.spec.instance)).map((p) => p.spec.kind))).toEqual(new Set(easelKinds));
    expect(actual).toEqual(expected);
  });

  it("builds the Easel image with the launcher's glibc allocator settings (deploy/Dockerfile's runtime stage)", () => {
    const env = runtimeStageEnv(readFileSync(join(repoRoot(), 'deploy', 'Dockerfile'), 'utf8'));
    expect(Object.keys(nativeMemoryEnv).length).toBeGreaterThan(0);
    const actual = Object.fromEntries(Object.keys(nativeMemoryEnv).map((name) => [name, env[name]]));
    expect(actual).toEqual(nativeMemoryEnv);
  });

  it('gates start order on health checks, as the launcher waits for readiness', () => {
    const problems: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.healthcheck?.test || service.healthcheck.disable) problems.push(`${name}: no health check`);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        if (condition !== 'service_healthy') problems.push(`${name}: depends on ${dependency} with ${condition}`);
      }
    }
    // What the launcher waits for before starting a process, compose waits for too.
    for (const { spec } of topology.processes) {
      const waitsFor = Object.keys(compose.services[spec.instance]!.depends_on ?? {});
      for (const dependency of spec.after) if (!waitsFor.includes(dependency)) problems.push(`${spec.instance}: starts before ${dependency} is healthy (the launcher waits for it)`);
    }
    expect(problems).toEqual([]);
  });

  it('runs PostgreSQL HA from the image built in this repository: a monitor, a primary that starts the formation, a standby cloned from it', () => {
    const monitor = compose.services['postgres-monitor']!;
    const [first, second] = [compose.services['postgres-1']!, compose.services['postgres-2']!];
    for (const service of [monitor, first, second]) expect(service.image).toBe('easel-postgres:0.1.0');
    expect(monitor.environment).toMatchObject({ PG_ROLE: 'monitor', PG_PORT: String(topology.layout.postgres.monitorPort) });
    expect(first.environment).toMatchObject({ PG_ROLE: 'node', PG_INITIAL_PRIMARY: 'true', PG_MONITOR: `postgres-monitor:${topology.layout.postgres.monitorPort}`, PG_MAX_PREPARED_TRANSACTIONS: String(topology.layout.postgres.maxPreparedTransactions) });
    expect(second.environment).toMatchObject({ PG_ROLE: 'node', PG_INITIAL_PRIMARY: 'false', PG_MONITOR: `postgres-monitor:${topology.layout.postgres.monitorPort}` });
    expect(Object.keys(second.depends_on ?? {})).toContain('postgres-1');
    const dockerfile = readFileSync(join(repoRoot(), 'deploy', 'postgres', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/apt-get install[^\n]*postgresql-15-auto-failover[^\n]*pg-auto-failover-cli/);
  });

  it('keeps credentials in compose secrets: Redis users with passwords, nothing secret in the environment, no floating image tags', () => {
    for (const [name, secret] of Object.entries(compose.secrets)) {
      expect(secret.file, name).toMatch(new RegExp(`/\\.easel/deploy-secrets/${name}$`));
    }
    const secretsScript = readFileSync(join(repoRoot(), 'deploy', 'secrets.sh'), 'utf8');
    for (const name of Object.keys(compose.secrets)) expect(secretsScript, `deploy/secrets.sh does not create ${name}`).toMatch(new RegExp(`names=\\([^)]*\\b${name}\\b`));
    const problems: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      for (const variable of Object.keys(service.environment ?? {})) if (/(PASSWORD|SECRET)$/.test(variable)) problems.push(`${name}: ${variable} in the environment`);
      if (!service.image || !/:[\w.-]+$/.test(service.image) || /:latest$/.test(service.image)) problems.push(`${name}: image ${service.image} has no fixed tag`);
      for (const secret of service.secrets ?? []) if (!(secret.source in compose.secrets)) problems.push(`${name}: unknown secret ${secret.source}`);
    }
    expect(problems).toEqual([]);
    for (let i = 1; i <= topology.layout.redis.ports.length; i++) {
      expect(compose.services[`redis-${i}`]!.secrets?.map((s) => s.source)).toEqual(expect.arrayContaining(['redis_easel_password', 'redis_exporter_password']));
      expect(compose.services[`redis-${i}-exporter`]!.environment).toMatchObject({ REDIS_USER: 'exporter' });
      expect(compose.services[`redis-${i}-exporter`]!.secrets).toContainEqual(expect.objectContaining({ source: 'redis_exporter_password', target: 'REDIS_PASSWORD' }));
    }
    expect(compose.services['gateway-1']!.secrets).toContainEqual(expect.objectContaining({ source: 'redis_easel_password', target: 'REDIS_PASSWORD' }));
  });

  it("scrapes with the launcher's Prometheus jobs, exporter node labels and alert rules", () => {
    const launcherConfig = parse(prometheusConfig(topology.layout, exporterTargets(topology.processes.map((p) => p.spec)))) as PrometheusConfig;
    const composeConfig = parse(readFileSync(join(repoRoot(), 'deploy', 'prometheus', 'prometheus.docker.yml'), 'utf8')) as PrometheusConfig;
    expect(jobsOf(composeConfig)).toEqual(jobsOf(launcherConfig));
    for (const job of ['postgres', 'redis']) expect(nodeLabels(composeConfig, job)).toEqual(nodeLabels(launcherConfig, job));
    expect(composeConfig.rule_files.map((file) => basename(file))).toEqual(alertRuleFiles().map((file) => basename(file)));
    // Every static target is a compose service on its exposed port.
    for (const config of composeConfig.scrape_configs) {
      for (const target of config.static_configs?.flatMap((group) => group.targets) ?? []) {
        const [host, port] = target.split(':') as [string, string];
        if (host === 'localhost') continue;
        expect(compose.services[host]?.expose?.map(String), target).toContain(port);
      }
    }
  });
});

interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }> }>;
}

function jobsOf(config: PrometheusConfig): string[] {
  return config.scrape_configs.map((c) => c.job_name).sort();
}

function nodeLabels(config: PrometheusConfig, job: string): string[] {
  return (config.scrape_configs.find((c) => c.job_name === job)?.static_configs ?? []).map((group) => group.labels?.node ?? '').sort();
}

/**
 * The variables the ENV instructions of a Dockerfile's last stage (after its last FROM) set, in
 * the `ENV NAME=value ...` form (lines continued with a backslash); values are not quoted here.
 */
function runtimeStageEnv(dockerfile: string): Record<string, string> {
  const stage = dockerfile.split(/^FROM\s/im).at(-1)!;
  const instructions = stage.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => /^ENV\s/i.test(line));
  return Object.fromEntries(instructions.flatMap((instruction) => [...instruction.matchAll(/([A-Za-z_]\w*)=(\S*)/g)].map(([, name, value]) => [name!, value!])));
}
