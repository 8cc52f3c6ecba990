import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/launcher/exec.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { resolveLayout } from '../../../src/launcher/layout.js';
import { prometheusConfig } from '../../../src/launcher/prometheus.js';
import { requirePrometheus } from '../../harness/prometheus.js';

describe('the Prometheus configuration the launcher writes', () => {
  it('is accepted by promtool and scrapes discovery once, the rest via discovery', async () => {
    const { promtool } = requirePrometheus();
    const layout = resolveLayout({ discovery: { ports: [18500, 18501] }, gateway: { port: 18080 } });
    const text = prometheusConfig(layout);
    const dir = mkdtempSync(join(tmpdir(), 'easel-prom-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, text);
      const result = await runCommand(promtool, ['check', 'config', file], { environment: loadLauncherConfig().childEnvironment });
      expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
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
