import { describe, expect, it } from 'vitest';
import { exporterTargets, postgresExporterQueriesFile, postgresExporterSpecs, redisExporterSpecs } from '../../../src/launcher/exporters.js';
import { resolveLayout } from '../../../src/launcher/layout.js';
import { prometheusConfig } from '../../../src/launcher/prometheus.js';

describe('the exporters the launcher runs', () => {
  const layout = resolveLayout({ dataDir: '/tmp/easel-exporters-test' });

  it('watch every PostgreSQL node and the monitor, each after its node, on the layout ports', async () => {
    const specs = postgresExporterSpecs(layout);
    expect(specs.map((s) => [s.instance, s.after, s.port])).toEqual([
      ['postgres-monitor-exporter', ['postgres-monitor'], 9440],
      ['postgres-1-exporter', ['postgres-1'], 9441],
      ['postgres-2-exporter', ['postgres-2'], 9442],
    ]);
    const [monitor, first] = await Promise.all(specs.slice(0, 2).map((s) => s.launch()));
    expect(first!.command).toBe('prometheus-postgres-exporter');
    expect(first!.args).toContain('--web.listen-address=127.0.0.1:9441');
    expect(first!.env).toMatchObject({ DATA_SOURCE_URI: '127.0.0.1:5441/postgres?sslmode=disable', DATA_SOURCE_USER: 'easel_exporter', PG_EXPORTER_EXTEND_QUERY_PATH: postgresExporterQueriesFile() });
    // Its own pg_monitor role, the password read from the private secrets folder, never the superuser.
    expect(first!.env!.DATA_SOURCE_PASS_FILE).toBe('/tmp/easel-exporters-test/secrets/postgres-exporter-password');
    // The monitor is not replicated: no replication queries that would call it a primary without a standby.
    expect(monitor!.env).not.toHaveProperty('PG_EXPORTER_EXTEND_QUERY_PATH');
    expect(monitor!.env).toMatchObject({ DATA_SOURCE_URI: '127.0.0.1:5440/postgres?sslmode=disable' });
  });

  it('watch every Redis node', async () => {
    const specs = redisExporterSpecs(layout);
    expect(specs.map((s) => [s.instance, s.after, s.port])).toEqual([
      ['redis-1-exporter', ['redis-1'], 9380],
      ['redis-2-exporter', ['redis-2'], 9381],
      ['redis-3-exporter', ['redis-3'], 9382],
      ['redis-4-exporter', ['redis-4'], 9383],
    ]);
    const command = await specs[2]!.launch();
    expect(command.args).toEqual(['-redis.addr', 'redis://127.0.0.1:6382', '-web.listen-address', '127.0.0.1:9382']);
    // The ACL user with read-only commands; the password travels in the environment, not argv.
    expect(command.env).toMatchObject({ REDIS_USER: 'exporter' });
    expect(command.env!.REDIS_PASSWORD).toMatch(/^[\w-]{32,}$/);
  });

  it('become Prometheus targets labelled with the node they watch, beside the alert rules', () => {
    const targets = exporterTargets([...postgresExporterSpecs(layout), ...redisExporterSpecs(layout)]);
    expect(targets).toContainEqual({ job: 'postgres', node: 'postgres-2', address: '127.0.0.1:9442' });
    expect(targets).toContainEqual({ job: 'redis', node: 'redis-4', address: '127.0.0.1:9383' });
    const config = prometheusConfig(layout, targets, ['/rules/a.yml']);
    expect(config).toContain("rule_files:\n  - '/rules/a.yml'\n");
    expect(config).toContain("  - job_name: postgres\n    static_configs:\n      - targets: ['127.0.0.1:9440']\n        labels:\n          node: postgres-monitor\n");
    expect(config).toContain("      - targets: ['127.0.0.1:9380']\n        labels:\n          node: redis-1\n");
  });
});
