import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCommand } from '../../../src/launcher/exec.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { requirePrometheus } from '../../harness/prometheus.js';
import { repoRoot } from '../../../src/launcher/paths.js';
import { alertRuleFiles } from '../../../src/launcher/prometheus.js';

// The alert rules of deploy/prometheus/rules, checked by promtool (Debian's prometheus package):
// every rule file is valid, every rule file has a *.test.yml beside it, promtool's unit tests
// pass, and every alert is made to fire by at least one of them.

const rulesDir = join(repoRoot(), 'deploy', 'prometheus', 'rules');
const testFiles = readdirSync(rulesDir).filter((name) => /\.test\.ya?ml$/.test(name)).sort();
const ruleFiles = alertRuleFiles(rulesDir);

interface RuleFile { groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string }> }> }
interface RuleTestFile { rule_files: string[]; tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }> }

function promtool(args: string[]) {
  return runCommand(requirePrometheus().promtool, args, { cwd: rulesDir, environment: loadLauncherConfig().childEnvironment });
}

describe('alert rules (deploy/prometheus/rules)', () => {
  it('are valid rule files, each with a promtool test beside it', async () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(4);
    for (const file of ruleFiles) {
      const result = await promtool(['check', 'rules', file]);
      expect(result.code, `${file}:\n${result.stdout}${result.stderr}`).toBe(0);
      const base = file.replace(/\.ya?ml$/, '');
      expect(testFiles.map((name) => join(rulesDir, name)), `${file} has no ${base}.test.yml`).toContain(`${base}.test.yml`);
    }
  });

  it.each(testFiles)('%s passes promtool test rules', async (name) => {
    const result = await promtool(['test', 'rules', name]);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('makes every alert fire in some test', () => {
    const alerts = ruleFiles.flatMap((file) => (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : []))));
    expect(alerts).toEqual(expect.arrayContaining(['EaselInstanceDown', 'EaselCircuitBreakerOpen', 'EaselHighServerErrorRate', 'EaselHighLatencyP99', 'PostgresReplicationLagHigh', 'PostgresNoStreamingStandby', 'CacheNodeDown', 'CacheMemoryNearMax', 'EaselDiscoveryReplicaDown']));
    const fired = new Set<string>();
    for (const name of testFiles) {
      const tests = (parse(readFileSync(join(rulesDir, name), 'utf8')) as RuleTestFile).tests;
      for (const test of tests) for (const check of test.alert_rule_test ?? []) if ((check.exp_alerts ?? []).length > 0) fired.add(check.alertname);
    }
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
  });
});
