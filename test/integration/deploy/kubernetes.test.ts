import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { runCommand } from '../../../src/launcher/exec.js';
import { exporterTargets } from '../../../src/launcher/exporters.js';
import { repoRoot } from '../../../src/launcher/paths.js';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { alertRuleFiles, commandExists, prometheusConfig } from '../../../src/launcher/prometheus.js';
import { serviceEntry } from '../../../src/launcher/specs.js';
import { countByKind, easelKinds, isEaselKind, launcherTopology, requiredVariables, schemaVariables, translateAddresses, type LauncherTopology } from '../../support/deploy-topology.js';

// deploy/k8s rendered by `kubectl kustomize deploy/k8s` and checked object by object: the same
// processes as the launcher's layout (stateful parts at the same counts, stateless ones at least
// as many), probes, resources, no privileged containers or floating image tags, disruption
// budgets and the gateway's autoscaler, the variables each config loader needs pointing at the
// right pods, credentials only from the Secret, network policies that expose the gateway alone,
// and a Prometheus with the launcher's jobs and every alert rule.

interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }
interface Probe { httpGet?: { path: string; port: string | number }; exec?: { command: string[] }; tcpSocket?: { port: string | number } }
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { privileged?: boolean; allowPrivilegeEscalation?: boolean };
}
interface PodSpec { containers: Container[]; initContainers?: Container[]; hostNetwork?: boolean; volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }> }
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown> & { replicas?: number; template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec }; selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const k8sDir = join(repoRoot(), 'deploy', 'k8s');
const kubectl = commandExists('kubectl');
/** Launcher kinds whose count Kubernetes must match exactly; the rest may scale out. */
const statefulKinds = ['discovery', 'redis', 'redis-exporter', 'postgres-monitor', 'postgres', 'postgres-exporter', 'prometheus'];

let objects: K8sObject[];
let topology: LauncherTopology;

if (!kubectl) console.warn('kubernetes.test.ts: kubectl is not installed, so deploy/k8s is not rendered or checked (apt-get install kubectl, or see https://kubernetes.io/docs/tasks/tools/)');

const workloads = () => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const containersOf = (o: K8sObject): Container[] => [...(o.spec?.template?.spec.initContainers ?? []), ...(o.spec?.template?.spec.containers ?? [])];
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const podLabels = (o: K8sObject) => o.spec?.template?.metadata?.labels ?? {};

/** Where a launcher instance lives in Kubernetes: "<statefulset>-<ordinal>.<service>:<port>". */
function k8sAddress(instance: string): string {
  const stateful = /^(discovery|redis|postgres)-(\d+)$/.exec(instance);
  if (instance === 'postgres-monitor') return 'postgres-monitor-0.postgres-monitor:5432';
  if (!stateful) throw new Error(`${instance} has no stable address in Kubernetes`);
  const [, set, n] = stateful as unknown as [string, string, string];
  const port = { discovery: 8500, redis: 6379, postgres: 5432 }[set as 'discovery' | 'redis' | 'postgres'];
  return `${set}-${Number(n) - 1}.${set}:${port}`;
}

describe.skipIf(!kubectl)('Kubernetes manifests (deploy/k8s)', () => {
  beforeAll(async () => {
    const result = await runCommand('kubectl', ['kustomize', k8sDir], { environment: loadLauncherConfig().childEnvironment, timeoutMs: 60_000 });
    expect(result.code, `kubectl kustomize deploy/k8s failed:\n${result.stderr}`).toBe(0);
    objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject).filter(Boolean);
    topology = await launcherTopology();
  });

  it('describe the processes of the launcher: stateful parts at its counts, stateless ones at least as many', () => {
    const kinds: string[] = [];
    for (const workload of workloads()) {
      for (const container of workload.spec!.template!.spec.containers) for (let i = 0; i < (workload.spec!.replicas ?? 1); i++) kinds.push(container.name);
    }
    const rendered = countByKind(kinds);
    const launcher = countByKind(topology.processes.map((p) => p.spec.kind));
    expect(Object.keys(rendered).sort()).toEqual(Object.keys(launcher).sort());
    for (const [kind, count] of Object.entries(launcher)) {
      if (statefulKinds.includes(kind)) expect(rendered[kind], kind).toBe(count);
      else expect(rendered[kind], kind).toBeGreaterThanOrEqual(Math.max(count, 2));
    }
    expect(find('StatefulSet', 'redis')?.spec?.replicas).toBe(topology.layout.redis.ports.length);
    expect(find('StatefulSet', 'postgres')?.spec?.replicas).toBe(2);
    expect(find('StatefulSet', 'postgres-monitor')?.spec?.replicas).toBe(1);
    for (const name of ['gateway', 'users', 'images', 'recommendations']) expect(find('Deployment', name)?.spec?.replicas, name).toBeGreaterThanOrEqual(2);
  });

  it('gives every container a readiness probe (the Easel processes on /health), resources, and no privileges or floating image tags', () => {
    const problems: string[] = [];
    for (const workload of workloads()) {
      const where = `${workload.kind}/${workload.metadata.name}`;
      if (workload.spec!.template!.spec.hostNetwork) problems.push(`${where}: hostNetwork`);
      for (const container of containersOf(workload)) {
        const at = `${where} ${container.name}`;
        const probe = container.readinessProbe;
        if (!probe) problems.push(`${at}: no readiness probe`);
        else if (isEaselKind(container.name as never) && probe.httpGet?.path !== '/health') problems.push(`${at}: readiness is not GET /health`);
        else if (/exporter$/.test(container.name) && probe.httpGet?.path !== '/metrics') problems.push(`${at}: readiness is not GET /metrics`);
        for (const part of ['requests', 'limits'] as const) for (const resource of ['cpu', 'memory']) if (!container.resources?.[part]?.[resource]) problems.push(`${at}: no ${resource} ${part}`);
        if (container.securityContext?.privileged !== false) problems.push(`${at}: privileged is not false`);
        if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
        if (!/:[\w.-]+$/.test(container.image.replace(/^[^/]+:\d+\//, '')) || /:latest$/.test(container.image)) problems.push(`${at}: image ${container.image} has no fixed tag`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('protects every replicated workload with a disruption budget and scales the gateway with an autoscaler', () => {
    // A single replica (the pg_auto_failover monitor, Prometheus) would only block node drains.
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    const uncovered = workloads().filter((w) => (w.spec!.replicas ?? 1) > 1 && !budgets.some((b) => Object.entries(b.spec?.selector?.matchLabels ?? {}).every(([k, v]) => podLabels(w)[k] === v)));
    expect(uncovered.map((w) => w.metadata.name)).toEqual([]);
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'gateway' }, minReplicas: 2 });
  });

  it('runs discovery as two replicas that every process finds through the Service "discovery"', () => {
    const service = find('Service', 'discovery');
    expect(service?.spec).toMatchObject({ clusterIP: 'None' });
    expect(podLabels(find('StatefulSet', 'discovery')!)).toMatchObject(service?.spec?.selector as Record<string, string>);
    expect(find('StatefulSet', 'discovery')?.spec).toMatchObject({ serviceName: 'discovery', replicas: 2 });
  });

  it("gives every Easel process the variables its config loader needs, pointing at the right pods, and credentials only from the Secret", () => {
    const problems: string[] = [];
    const secretKeys = /names=\(([^)]*)\)/.exec(readFileSync(join(repoRoot(), 'deploy', 'secrets.sh'), 'utf8'))![1]!.split(/\s+/).filter(Boolean);
    const launcherByKind = new Map(topology.processes.filter((p) => isEaselKind(p.spec.kind)).map((p) => [p.spec.kind, p]));
    for (const workload of workloads()) {
      for (const container of containersOf(workload)) {
        const at = `${workload.metadata.name} ${container.name}`;
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (ref && (ref.name !== 'easel-credentials' || !secretKeys.includes(ref.key))) problems.push(`${at}: ${variable.name} from ${ref.name}/${ref.key}, not a key deploy/secrets.sh creates in easel-credentials`);
          if (/(PASSWORD|SECRET)$/.test(variable.name) && !ref) problems.push(`${at}: ${variable.name} is written in the manifest`);
        }
        const launcher = launcherByKind.get(container.name as never);
        if (!launcher || !isEaselKind(launcher.spec.kind)) continue;
        const env = new Map((container.env ?? []).map((v) => [v.name, v]));
        for (const name of requiredVariables(launcher.spec.kind, launcher.env)) if (!env.has(name)) problems.push(`${at}: ${name} is not set`);
        const readable = new Set(schemaVariables(launcher.spec.kind));
        for (const [name, variable] of env) if (!readable.has(name) && !variable.valueFrom?.secretKeyRef) problems.push(`${at}: ${name} is set but ${launcher.spec.kind}'s config loader does not read it`);
        // The launcher's addresses, translated to the pods' stable names.
        for (const [name, value] of Object.entries(launcher.env)) {
          // DISCOVERY_PEERS are metrics addresses: free ports under the launcher, the container port `metrics` here.
          if (!readable.has(name) || !value.includes(`${topology.layout.host}:`) || name === 'DISCOVERY_PEERS') continue;
          const expected = translateAddresses(value, topology, (instance) => k8sAddress(instance));
          const actual = env.get(name)?.value ?? '';
          const ok = name === 'DISCOVERY_PEERS' ? expected.split(',').every((address) => actual.split(',').includes(address)) : actual === expected;
          if (!ok) problems.push(`${at}: ${name} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)} (the launcher's ${JSON.stringify(value)})`);
        }
        if (env.get('HOST')?.value !== '0.0.0.0' && env.get('HOST')?.valueFrom?.fieldRef?.fieldPath !== 'status.podIP') problems.push(`${at}: HOST is neither the pod's address nor 0.0.0.0`);
      }
    }
    expect(problems).toEqual([]);
    // No credential is committed: Secrets come from deploy/secrets.sh, not from these files.
    expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([]);
  });

  it("runs every Easel container with the launcher's node flags for its kind, in its order, then its entry", () => {
    // Every instance of a kind gets the same flags from the launcher; a container runs them all.
    const launcherArgs = new Map<string, string[]>();
    for (const { spec, args } of topology.processes) {
      if (!isEaselKind(spec.kind)) continue;
      // The launcher's last argument is the entry; everything before it is node's flags.
      expect(args.at(-1), spec.instance).toBe(serviceEntry(spec.kind));
      expect(args.length, spec.instance).toBeGreaterThan(1);
      expect(launcherArgs.get(spec.kind) ?? args, spec.instance).toEqual(args);
      launcherArgs.set(spec.kind, args);
    }
    const actual: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const workload of workloads()) {
      for (const container of containersOf(workload)) {
        const args = launcherArgs.get(container.name);
        if (!args) continue;
        const at = `${workload.metadata.name} ${container.name}`;
        const command = container.command ?? [];
        actual[at] = { node: command[0], flags: command.slice(1, -1), entry: command.at(-1) };
        expected[at] = { node: 'node', flags: args.slice(0, -1), entry: `dist/src/${container.name}/main.js` };
      }
    }
    expect(Object.keys(expected).map((at) => at.split(' ')[1]).sort()).toEqual([...easelKinds].sort());
    expect(actual).toEqual(expected);
  });

  it('lets traffic in only where it belongs: the gateway from anywhere, RPC between Easel pods, data stores from their users', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & { spec: { podSelector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }; policyTypes: string[]; ingress?: Array<{ from?: unknown[] }> } }>;
    const denyAll = policies.find((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes('Ingress') && !p.spec.ingress);
    expect(denyAll, 'a default-deny ingress policy').toBeTruthy();
    const fromAnywhere = policies.filter((p) => p.spec.ingress?.some((rule) => !rule.from));
    expect(fromAnywhere.map((p) => p.spec.podSelector)).toEqual([{ matchLabels: { 'app.kubernetes.io/name': 'gateway' } }]);
    const rpc = policies.find((p) => p.metadata.name === 'rpc-between-easel-processes');
    expect(JSON.stringify(rpc?.spec.podSelector)).toContain('users');
    expect(JSON.stringify(rpc?.spec.ingress)).not.toContain('postgres');
    // Only the gateway's Service is published outside the cluster.
    expect(objects.filter((o) => o.kind === 'Service' && ['LoadBalancer', 'NodePort'].includes(String(o.spec?.type))).map((o) => o.metadata.name)).toEqual(['gateway']);
  });

  // Debian's promtool is built without Kubernetes service discovery, so the configuration is
  // checked by its structure here; the rules by promtool in alert-rules.test.ts.
  it("runs Prometheus with the launcher's jobs, every alert rule, and the exporters labelled by node", () => {
    const configMap = (prefix: string) => {
      const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(prefix));
      if (!map?.data) throw new Error(`no ConfigMap ${prefix}*`);
      return map.data;
    };
    const config = configMap('prometheus-config-')['prometheus.yml']!;
    const rules = configMap('easel-alert-rules-');
    expect(Object.keys(rules).sort(), 'deploy/prometheus/kustomization.yaml lists every rule file').toEqual(alertRuleFiles().map((file) => basename(file)));
    const jobs = (text: string) => (parse(text) as { scrape_configs: Array<{ job_name: string }> }).scrape_configs.map((c) => c.job_name).sort();
    expect(jobs(config)).toEqual(jobs(prometheusConfig(topology.layout, exporterTargets(topology.processes.map((p) => p.spec)))));
    // The exporter queries the launcher uses reach the PostgreSQL exporters.
    expect(configMap('easel-postgres-exporter-queries-')['postgres-exporter-queries.yml']).toBe(readFileSync(join(repoRoot(), 'deploy', 'prometheus', 'postgres-exporter-queries.yml'), 'utf8'));
    const prometheusPod = find('Deployment', 'prometheus')!.spec!.template!.spec;
    expect(prometheusPod.volumes?.map((v) => v.configMap?.name ?? '')).toEqual(expect.arrayContaining([expect.stringMatching(/^prometheus-config-/), expect.stringMatching(/^easel-alert-rules-/)]));
    const scrape = (parse(config) as { rule_files: string[]; scrape_configs: Array<{ job_name: string; relabel_configs?: Array<{ target_label?: string; source_labels?: string[]; regex?: string }> }> });
    expect(scrape.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    for (const job of ['postgres', 'redis']) {
      const relabels = scrape.scrape_configs.find((c) => c.job_name === job)?.relabel_configs ?? [];
      expect(relabels, job).toContainEqual(expect.objectContaining({ source_labels: ['__meta_kubernetes_pod_name'], target_label: 'node' }));
      // The port the job keeps is the exporter's.
      const port = relabels.find((r) => r.source_labels?.includes('__meta_kubernetes_pod_container_port_name'))?.regex;
      const exporterPorts = workloads().flatMap((w) => w.spec!.template!.spec.containers.filter((c) => c.name === `${job}-exporter`).flatMap((c) => c.ports?.map((p) => p.name) ?? []));
      expect(exporterPorts.length, job).toBeGreaterThan(0);
      expect(new Set(exporterPorts), job).toEqual(new Set([port]));
    }
  });
});
