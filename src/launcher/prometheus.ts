import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterLayout } from './layout.js';
import { repoRoot } from './paths.js';
import { httpOk } from './readiness.js';
import type { ProcessSpec } from './spec.js';

/** A static Prometheus target for one data-store exporter (exporters.ts makes them). */
export interface ExporterTarget {
  job: 'postgres' | 'redis';
  /** The watched node's instance name, e.g. "postgres-1", "redis-3". */
  node: string;
  address: string;
}

/** The metrics ports of discovery's replicas and the gateway (specs.ts picks them). */
export interface MetricsPortsView {
  discovery: readonly number[];
  gateway: number;
}

/** Whether the layout runs Prometheus: "auto" means when the binary is installed. */
export function prometheusWanted(layout: ClusterLayout): boolean {
  if (layout.prometheus.enabled === false) return false;
  if (layout.prometheus.enabled === true) return true;
  return commandExists(layout.prometheus.binary);
}

export function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The alert rule files in deploy/prometheus/rules (their promtool tests, *.test.yml, beside them are not rules). */
export function alertRuleFiles(dir = join(repoRoot(), 'deploy', 'prometheus', 'rules')): string[] {
  return readdirSync(dir).filter((name) => /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name)).sort().map((name) => join(dir, name));
}

/**
 * The Prometheus configuration the launcher writes: Easel's processes come from discovery's
 * http_sd endpoint (every replica is asked, identical targets are merged); discovery itself is
 * static, and so are the data stores' exporters, each labelled with the node it watches. The
 * alert rules of deploy/prometheus/rules are loaded (read again on every start).
 */
export function prometheusConfig(layout: ClusterLayout, exporters: readonly ExporterTarget[] = [], ruleFiles: readonly string[] = alertRuleFiles(), metricsPorts?: MetricsPortsView): string {
  // Every Easel process serves /metrics (and discovery its targets) on an internal metrics port, not its API port.
  const discovery = (metricsPorts?.discovery ?? layout.discovery.ports).map((p) => `${layout.host}:${p}`);
  const interval = `${layout.prometheus.scrapeIntervalSeconds}s`;
  const gateway = `${layout.host}:${metricsPorts?.gateway ?? layout.gateway.port}`;
  return [
    '# Written by the Easel launcher (src/launcher/prometheus.ts); changes are overwritten.',
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ...(ruleFiles.length > 0 ? ['rule_files:', ...ruleFiles.map((file) => `  - '${file}'`)] : []),
    'scrape_configs:',
    '  - job_name: easel',
    '    http_sd_configs:',
    ...discovery.flatMap((address) => [`      - url: http://${address}/prometheus/targets`, `        refresh_interval: ${interval}`]),
    // Discovery replicas are scraped by the static job below (even when the registry is empty): not twice.
    '    relabel_configs:',
    '      - source_labels: [__address__]',
    `        regex: '${discovery.map((a) => a.replace(/\./g, '\\.')).join('|')}'`,
    '        action: drop',
    // Discovery labels each target with its registered name as `service`, a label Easel's own
    // metrics use for the service they call or list; a target label of the same name would push
    // theirs aside (to exported_service), so the registered name travels as discovery_service.
    '      - source_labels: [service]',
    '        target_label: discovery_service',
    '      - action: labeldrop',
    '        regex: service',
    '  - job_name: discovery',
    '    static_configs:',
    `      - targets: [${discovery.map((a) => `'${a}'`).join(', ')}]`,
    '  - job_name: gateway',
    '    static_configs:',
    `      - targets: ['${gateway}']`,
    ...(['postgres', 'redis'] as const).flatMap((job) => {
      const targets = exporters.filter((target) => target.job === job);
      if (targets.length === 0) return [];
      return [
        `  - job_name: ${job}`,
        '    static_configs:',
        ...targets.flatMap((target) => [`      - targets: ['${target.address}']`, '        labels:', `          node: ${target.node}`]),
      ];
    }),
    '  - job_name: prometheus',
    '    static_configs:',
    `      - targets: ['${layout.host}:${layout.prometheus.port}']`,
    '',
  ].join('\n');
}

export function prometheusSpec(layout: ClusterLayout, exporters: readonly ExporterTarget[] = [], metricsPorts?: MetricsPortsView): ProcessSpec {
  const dir = join(layout.dataDir, 'prometheus');
  const base = `http://${layout.host}:${layout.prometheus.port}`;
  return {
    instance: 'prometheus',
    kind: 'prometheus',
    component: 'prometheus',
    host: layout.host,
    port: layout.prometheus.port,
    after: [],
    url: base,
    launch: async () => {
      mkdirSync(join(dir, 'data'), { recursive: true });
      const configFile = join(dir, 'prometheus.yml');
      writeFileSync(configFile, prometheusConfig(layout, exporters, alertRuleFiles(), metricsPorts));
      return {
        command: layout.prometheus.binary,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          '--storage.tsdb.retention.time=2d',
          `--web.listen-address=${layout.host}:${layout.prometheus.port}`,
          '--web.enable-lifecycle',
          '--log.level=warn',
        ],
        cwd: dir,
      };
    },
    ready: () => httpOk(`${base}/-/ready`),
    readyTimeoutMs: () => layout.timeouts.startMs,
  };
}
