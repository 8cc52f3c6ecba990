import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveLayout } from '../../../src/launcher/layout.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { buildProcessSpecs } from '../../../src/launcher/specs.js';
import { loadOrCreateSecrets } from '../../../src/launcher/secrets.js';
import { prometheusConfig } from '../../../src/launcher/prometheus.js';

// The launcher gives every Easel process the cluster secret from its private secrets folder and
// an internal metrics port of its own, and Prometheus scrapes those ports, not the API ports.
// (Needs `npm run build`: a spec's launch checks its entry point.)

const dataDir = mkdtempSync(join(tmpdir(), 'easel-credentials-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the launcher wires service identity and metrics ports', () => {
  it('passes CLUSTER_SECRET and a distinct METRICS_PORT to every Easel process', async () => {
    const layout = resolveLayout({ dataDir, prometheus: { enabled: false } });
    const specs = await buildProcessSpecs(layout, loadLauncherConfig(), ['services']);
    const secret = loadOrCreateSecrets(dataDir)['cluster-secret'];
    const easel = specs.filter((spec) => ['discovery', 'users', 'images', 'recommendations', 'gateway'].includes(spec.kind));
    expect(easel.length).toBe(2 + 2 + 2 + 2 + 1);
    const metricsPorts = new Set<string>();
    for (const spec of easel) {
      const env = (await spec.launch()).env ?? {};
      expect(env.CLUSTER_SECRET, spec.instance).toBe(secret);
      expect(Number(env.METRICS_PORT), spec.instance).toBeGreaterThan(0);
      expect(env.METRICS_PORT).not.toBe(env.PORT);
      expect(spec.metricsPort).toBe(Number(env.METRICS_PORT));
      metricsPorts.add(env.METRICS_PORT!);
    }
    expect(metricsPorts.size).toBe(easel.length);
    // Discovery lists its peers' metrics addresses as targets.
    const discovery = await Promise.all(easel.filter((s) => s.kind === 'discovery').map(async (s) => (await s.launch()).env ?? {}));
    expect(discovery[0]!.DISCOVERY_PEERS).toBe(`${layout.host}:${discovery[1]!.METRICS_PORT}`);
  });

  it('points Prometheus at the metrics ports of discovery and the gateway', () => {
    const layout = resolveLayout({ dataDir, discovery: { ports: [18500, 18501] }, gateway: { port: 18080 } });
    const text = prometheusConfig(layout, [], [], { discovery: [19500, 19501], gateway: 19080 });
    expect(text).toContain('url: http://127.0.0.1:19500/prometheus/targets');
    expect(text).toContain("targets: ['127.0.0.1:19500', '127.0.0.1:19501']");
    expect(text).toContain("targets: ['127.0.0.1:19080']");
    expect(text).not.toContain('18080');
  });
});
