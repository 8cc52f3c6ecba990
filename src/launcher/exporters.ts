import { join } from 'node:path';
import type { ClusterLayout } from './layout.js';
import { dataNodeInstances, exporterRole, monitorInstance } from './postgres-ha.js';
import { loadOrCreateSecrets, secretFile } from './secrets.js';
import { exporterRedisUser } from './redis-config.js';
import { commandExists, prometheusWanted, type ExporterTarget } from './prometheus.js';
import { repoRoot } from './paths.js';
import { httpBodyMatches } from './readiness.js';
import type { ProcessSpec } from './spec.js';

// Debian's Prometheus exporters for the data stores: one prometheus-postgres-exporter per
// PostgreSQL node and the pg_auto_failover monitor, one prometheus-redis-exporter per Redis node.
// Each is named after the node it watches ("postgres-1-exporter") and scraped with a `node` label
// carrying that node's instance name, which the dashboard and the alert rules group by.

// ExporterTarget lives with the configuration that scrapes it (prometheus.ts), so the two
// modules import in one direction only.
export type { ExporterTarget } from './prometheus.js';

/**
 * What the exporters log in with: PostgreSQL role `easel_exporter` (pg_monitor, no superuser)
 * reading its password from its file under `<dataDir>/secrets/`, and Redis ACL user `exporter`
 * (only the read commands the exporter needs).
 */
export function exporterCredentials(layout: ClusterLayout): {
  postgres: { user: string; passwordFile?: string };
  redis: { user?: string; password?: string };
} {
  const secrets = loadOrCreateSecrets(layout.dataDir);
  return {
    postgres: { user: exporterRole, passwordFile: secretFile(layout.dataDir, 'postgres-exporter-password') },
    redis: { user: exporterRedisUser, password: secrets['redis-exporter-password'] },
  };
}

/** Whether the layout runs the exporters: "auto" means when both are installed and Prometheus runs. */
export function exportersWanted(layout: ClusterLayout): boolean {
  if (layout.exporters.enabled === false) return false;
  if (layout.exporters.enabled === true) return true;
  return prometheusWanted(layout) && commandExists(layout.exporters.postgres.binary) && commandExists(layout.exporters.redis.binary);
}

/** The extra queries the data nodes' exporters run (replication state and lag, prepared transactions). */
export function postgresExporterQueriesFile(): string {
  return join(repoRoot(), 'deploy', 'prometheus', 'postgres-exporter-queries.yml');
}

export function postgresExporterSpecs(layout: ClusterLayout): ProcessSpec[] {
  const { host } = layout;
  const { binary, monitorPort, primaryPort, standbyPort } = layout.exporters.postgres;
  const watched = [
    { node: monitorInstance, port: layout.postgres.monitorPort, exporterPort: monitorPort },
    { node: dataNodeInstances[0], port: layout.postgres.primaryPort, exporterPort: primaryPort },
    { node: dataNodeInstances[1], port: layout.postgres.standbyPort, exporterPort: standbyPort },
  ];
  return watched.map(({ node, port, exporterPort }) => {
    const metricsUrl = `http://${host}:${exporterPort}/metrics`;
    return {
      instance: `${node}-exporter`,
      kind: 'postgres-exporter',
      component: 'prometheus',
      host,
      port: exporterPort,
      after: [node],
      url: metricsUrl,
      launch: async () => {
        const { user, passwordFile } = exporterCredentials(layout).postgres;
        return {
          command: binary,
          args: [`--web.listen-address=${host}:${exporterPort}`, '--log.level=warn'],
          env: {
            DATA_SOURCE_URI: `${host}:${port}/postgres?sslmode=disable`,
            DATA_SOURCE_USER: user,
            ...(passwordFile ? { DATA_SOURCE_PASS_FILE: passwordFile } : {}),
            // The monitor is not replicated: the replication queries would only report it as a primary without a standby.
            ...(node === monitorInstance ? {} : { PG_EXPORTER_EXTEND_QUERY_PATH: postgresExporterQueriesFile() }),
          },
        };
      },
      // Ready once it reaches its node, not merely once it listens.
      ready: () => httpBodyMatches(metricsUrl, /^pg_up 1$/m),
      readyTimeoutMs: () => layout.timeouts.startMs,
    } satisfies ProcessSpec;
  });
}

export function redisExporterSpecs(layout: ClusterLayout): ProcessSpec[] {
  const { host } = layout;
  const { binary, ports } = layout.exporters.redis;
  return layout.redis.ports.map((redisPort, i) => {
    const exporterPort = ports[i] as number;
    const node = `redis-${i + 1}`;
    const metricsUrl = `http://${host}:${exporterPort}/metrics`;
    return {
      instance: `${node}-exporter`,
      kind: 'redis-exporter',
      component: 'prometheus',
      host,
      port: exporterPort,
      after: [node],
      url: metricsUrl,
      launch: async () => {
        const { user, password } = exporterCredentials(layout).redis;
        return {
          command: binary,
          args: ['-redis.addr', `redis://${host}:${redisPort}`, '-web.listen-address', `${host}:${exporterPort}`],
          env: { ...(user ? { REDIS_USER: user } : {}), ...(password ? { REDIS_PASSWORD: password } : {}) },
        };
      },
      ready: () => httpBodyMatches(metricsUrl, /^redis_up 1$/m),
      readyTimeoutMs: () => layout.timeouts.startMs,
    } satisfies ProcessSpec;
  });
}

/** Prometheus's static targets for the exporters among `specs`. */
export function exporterTargets(specs: readonly ProcessSpec[]): ExporterTarget[] {
  return specs
    .filter((spec) => spec.kind === 'postgres-exporter' || spec.kind === 'redis-exporter')
    .map((spec) => ({ job: spec.kind === 'postgres-exporter' ? 'postgres' : 'redis', node: spec.instance.replace(/-exporter$/, ''), address: `${spec.host}:${spec.port}` }));
}
