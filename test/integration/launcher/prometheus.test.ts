import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/launcher/exec.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { resolveLayout } from '../../../src/launcher/layout.js';
import { exporterTargets, postgresExporterSpecs, redisExporterSpecs } from '../../../src/launcher/exporters.js';
import { alertRuleFiles, prometheusConfig } from '../../../src/launcher/prometheus.js';
import { requirePrometheus } from '../../harness/prometheus.js';

describe('the Prometheus configuration the launcher writes', () => {
  it('is accepted by promtool (alert rules included) and scrapes discovery once, the rest via discovery, the exporters statically', async () => {
    const { promtool } = requirePrometheus();
    const layout = resolveLayout({ discovery: { ports: [18500, 18501] }, gateway: { port: 18080 } });
    const text = prometheusConfig(layout, exporterTargets([...postgresExporterSpecs(layout), ...redisExporterSpecs(layout)]));
    // Every rule file (not the promtool tests beside them) is loaded.
    expect(alertRuleFiles().length).toBeGreaterThanOrEqual(4);
    for (const file of alertRuleFiles()) expect(text).toContain(`  - '${file}'`);
    expect(text).not.toContain('.test.yml');
    const dir = mkdtempSync(join(tmpdir(), 'easel-prom-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, text);
      const result = await runCommand(promtool, ['check', 'config', file], { environment: loadLauncherConfig().childEnvironment });
      expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
      expect(`${result.stdout}${result.stderr}`).not.toContain('FAILED');
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(text).toContain('url: http://127.0.0.1:18500/prometheus/targets');
    expect(text).toContain('url: http://127.0.0.1:18501/prometheus/targets');
    expect(text).toContain("targets: ['127.0.0.1:18500', '127.0.0.1:18501']");
    expect(text).toContain("targets: ['127.0.0.1:18080']");
  });
});
