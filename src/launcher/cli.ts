#!/usr/bin/env node
import { existsSync, readFileSync, statSync, openSync, readSync, closeSync, watchFile, unwatchFile } from 'node:fs';
import { parseArgs } from 'node:util';
import { errorCode } from '../platform/errors.js';
import { startCluster, type ProgressEvent, type InstanceStatus } from './cluster.js';
import { ClusterInterruptedError, ClusterStartError, LayoutError } from './errors.js';
import { layoutPaths, loadLayoutFile, resolveLayout, withPortOffset, type ClusterLayout } from './layout.js';
import { tokenHeader } from './control.js';
import { readLauncherState, tailFile } from './state.js';
import { loadLauncherConfig, type LauncherConfig } from './config.js';
import { ConfigError } from '../platform/config.js';
import { signalGroup } from './process.js';
import { backupDatabases, restoreDatabases } from './backup.js';
import { describeCacheRing, formatCacheRing } from './cache-ring-view.js';
import { loadOrCreateSecrets, secretFile, withoutPassword } from './secrets.js';
import { redisAnswers } from './readiness.js';
import { serviceRedisUser } from './redis-config.js';
import { processAlive } from '../platform/process-alive.js';
import { waitFor } from '../platform/wait.js';

const usage = `usage: easel <command> [options]

commands:
  up                 start every process and supervise them (foreground; Ctrl-C stops everything)
  down               stop a running launcher gracefully
  status             list every process and whether it is ready
  kill <instance>    SIGKILL an instance (failure drills); the launcher restarts it.
                     The signal reaches every process of the instance: for a PostgreSQL node
                     the keeper, the postmaster and all its backends (--signal SIGSTOP freezes
                     the whole node, SIGCONT thaws it)
  logs <instance>    print an instance's log (-f to follow, -n lines)
  backup <dir>       dump the users, images and recommendations databases (pg_dump) from the primary into <dir>
  restore <dir>      replace those databases' contents with a backup made by "easel backup" (pg_restore)

options:
  --config <file>      JSON layout overrides (also EASEL_CONFIG)
  --data-dir <dir>     where data, logs and launcher state live (default .easel)
  --port-offset <n>    add n to every fixed port (run a second cluster beside the first)
  --upload-transaction <saga|2pc>
                       how uploads and deletes stay consistent (default: the layout's, saga)
  --signal <name>      with kill: the signal to send (default SIGKILL)
  --json               with status: machine-readable output
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'port-offset': { type: 'string' },
      'upload-transaction': { type: 'string' },
      signal: { type: 'string', default: 'SIGKILL' },
      json: { type: 'boolean', default: false },
      follow: { type: 'boolean', short: 'f', default: false },
      lines: { type: 'string', short: 'n', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, target] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage);
    return command ? 0 : 2;
  }
  const config = loadLauncherConfig();
  const layout = cliLayout(values.config ?? config.EASEL_CONFIG, values['data-dir'], values['port-offset'], values['upload-transaction']);
  switch (command) {
    case 'up':
      return up(layout, config);
    case 'down':
      return down(layout);
    case 'status':
      return status(layout, values.json);
    case 'kill':
      if (!target) return fail('usage: easel kill <instance>');
      return kill(layout, target, values.signal);
    case 'logs':
      if (!target) return fail('usage: easel logs <instance>');
      return logs(layout, target, Number(values.lines), values.follow);
    case 'backup':
      if (!target) return fail('usage: easel backup <dir>');
      return backup(layout, config, target);
    case 'restore':
      if (!target) return fail('usage: easel restore <dir>');
      return restore(layout, config, target);
    default:
      return fail(`unknown command "${command}"\n${usage}`);
  }
}

function cliLayout(configFile: string | undefined, dataDir: string | undefined, portOffset: string | undefined, uploadTransaction: string | undefined): ClusterLayout {
  let layout = configFile ? loadLayoutFile(configFile) : resolveLayout({}, 'defaults');
  if (dataDir) layout = resolveLayout({ ...layout, dataDir }, '--data-dir');
  if (uploadTransaction) layout = resolveLayout({ ...layout, uploadTransaction }, '--upload-transaction');
  if (portOffset !== undefined) {
    const offset = Number(portOffset);
    if (!Number.isInteger(offset)) throw new LayoutError([`--port-offset: must be an integer (got ${JSON.stringify(portOffset)})`], 'command line');
    layout = withPortOffset(layout, offset);
  }
  return layout;
}

async function up(layout: ClusterLayout, config: LauncherConfig): Promise<number> {
  const started = Date.now();
  console.log(`easel: starting the cluster (data in ${layout.dataDir})`);
  const handleRef: { current?: { stop(): Promise<void> } } = {};
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) {
      // A second Ctrl-C: no more waiting.
      console.log('\neasel: killing every process now');
      killRecordedGroups(layout);
      process.exit(130);
    }
    interrupted = true;
    console.log(`\neasel: ${signal}: stopping everything…`);
    abort.abort();
    void handleRef.current?.stop();
  };
  const abort = new AbortController();
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  let cluster;
  try {
    cluster = await startCluster(layout, { config, onProgress: (event) => printProgress(event, started), signal: abort.signal });
  } catch (error) {
    const code = errorCode(error);
    if (code === ClusterInterruptedError.code) {
      console.log('easel: stopped; no process left behind.');
      return 130;
    }
    // A start failure's message names the process and carries the tail of its log.
    console.error(`\neasel: ${code === ClusterStartError.code ? '' : 'start failed: '}${(error as Error).message}`);
    return 1;
  }
  handleRef.current = cluster;
  if (abort.signal.aborted) void cluster.stop();
  else {
    const seconds = (cluster.startupMs / 1000).toFixed(1);
    console.log(`\neasel: all ${cluster.status().length} processes ready in ${seconds} s`);
    console.log(`  web app      ${cluster.gatewayUrl}/app/`);
    console.log(`  gateway      ${cluster.gatewayUrl}   (public API; try: curl ${cluster.gatewayUrl}/health)`);
    console.log(`  discovery    ${cluster.discoveryUrls.join('  ')}`);
    if (cluster.prometheusUrl) console.log(`  prometheus   ${cluster.prometheusUrl}`);
    else console.log('  prometheus   not running (not installed)');
    const exporters = cluster.status().filter((p) => p.kind === 'postgres-exporter' || p.kind === 'redis-exporter');
    if (exporters.length > 0) console.log(`  exporters    ${exporters.map((p) => `${p.instance.replace(/-exporter$/, '')} ${p.url}`).join('\n               ')}`);
    else console.log('  exporters    not running (need Prometheus and the prometheus-*-exporter packages: make deps)');
    // The URL carries the superuser's password: print where it lives instead (secrets stay out of output and logs).
    console.log(`  postgres     ${withoutPassword(cluster.databaseUrl('<users|images|recommendations>'), `<password in ${secretFile(layout.dataDir, 'postgres-superuser-password')}>`)}`);
    console.log(`  redis        ${cluster.redisNodes}`);
    console.log(`  logs         ${layoutPaths(layout).logs}/<instance>.log`);
    // The services run on the launcher's own node binary (process.execPath).
    console.log(`  node         ${process.version} (${process.execPath})`);
    console.log('easel: supervising; Ctrl-C (or "easel down") stops everything.');
  }
  // Ctrl-C, `easel down` and the control endpoint all end here.
  await cluster.stopped;
  console.log('easel: stopped; no process left behind.');
  return 0;
}

/** Wide enough for the longest instance name, "postgres-monitor-exporter". */
const instanceColumn = 25;

function printProgress(event: ProgressEvent, started: number): void {
  const at = `+${((Date.now() - started) / 1000).toFixed(1)}s`;
  switch (event.type) {
    case 'ready':
      console.log(`  ${at.padStart(7)}  ${event.restarts > 0 ? '↻' : '✓'} ${event.instance.padEnd(instanceColumn)} pid ${String(event.pid).padEnd(7)} port ${String(event.port).padEnd(6)} ready in ${event.ms} ms${event.restarts > 0 ? ` (restart #${event.restarts})` : ''}`);
      break;
    case 'exit':
      if (!event.expected) console.log(`  ${at.padStart(7)}  ✗ ${event.instance.padEnd(instanceColumn)} pid ${event.pid} exited (${event.signal ?? `code ${event.code}`})`);
      break;
    case 'restart-scheduled':
      console.log(`  ${at.padStart(7)}  … ${event.instance.padEnd(instanceColumn)} restarting in ${event.delayMs} ms (attempt ${event.attempt})`);
      break;
    case 'start-failed':
      console.log(`  ${at.padStart(7)}  ✗ ${event.instance.padEnd(instanceColumn)} ${event.error}`);
      break;
    case 'stopped':
      console.log(`  ${at.padStart(7)}  ■ ${event.instance.padEnd(instanceColumn)} stopped in ${event.ms} ms`);
      break;
    case 'stopping':
      break;
  }
}

async function control(layout: ClusterLayout, method: string, path: string): Promise<{ status: number; body: unknown } | undefined> {
  const state = readLauncherState(layout);
  if (!state || !state.controlPort) return undefined;
  try {
    const res = await fetch(`http://127.0.0.1:${state.controlPort}${path}`, { method, headers: { [tokenHeader]: state.token ?? '' } });
    return { status: res.status, body: await res.json() };
  } catch {
    return undefined;
  }
}

function notRunning(layout: ClusterLayout): number {
  console.error(`easel: no launcher is running on ${layout.dataDir} (start one with "make start" or "easel up")`);
  return 1;
}

async function down(layout: ClusterLayout): Promise<number> {
  const state = readLauncherState(layout);
  const answer = await control(layout, 'POST', '/down');
  if (!state || !answer) return notRunning(layout);
  console.log(`easel: stopping the launcher (pid ${state.pid})…`);
  try {
    await waitFor(`the launcher (pid ${state.pid}) to exit`, () => !processAlive(state.pid), { timeoutMs: layout.timeouts.stopMs * 4 + 10_000, intervalMs: 100 });
  } catch {
    return fail(`the launcher (pid ${state.pid}) is still running`);
  }
  console.log('easel: stopped');
  return 0;
}

async function status(layout: ClusterLayout, json: boolean): Promise<number> {
  const answer = await control(layout, 'GET', '/status');
  if (!answer) return notRunning(layout);
  const body = answer.body as { processes: InstanceStatus[]; gatewayUrl: string; startupMs: number; redisNodes: string; uploadTransaction?: string };
  // The nodes answer only the ACL user the gateway logs in as (the default user is off).
  const password = loadOrCreateSecrets(layout.dataDir)['redis-easel-password'];
  const cacheRing = await describeCacheRing(body.redisNodes, (host, port) => redisAnswers(host, port, { user: serviceRedisUser, password }));
  if (json) {
    console.log(JSON.stringify({ ...body, cacheRing }, null, 2));
  } else {
    console.log(`${'INSTANCE'.padEnd(instanceColumn)} ${'STATE'.padEnd(11)} ${'PID'.padEnd(8)} ${'PORT'.padEnd(6)} RESTARTS  URL`);
    for (const p of body.processes) {
      console.log(`${p.instance.padEnd(instanceColumn)} ${p.state.padEnd(11)} ${String(p.pid ?? '-').padEnd(8)} ${String(p.port).padEnd(6)} ${String(p.restarts).padEnd(9)} ${p.url}`);
    }
    const ready = body.processes.filter((p) => p.state === 'ready').length;
    console.log(`\n${ready}/${body.processes.length} ready; gateway ${body.gatewayUrl}; upload transactions: ${body.uploadTransaction ?? 'unknown'}\n`);
    for (const line of formatCacheRing(cacheRing)) console.log(line);
  }
  return body.processes.every((p) => p.state === 'ready') ? 0 : 3;
}

async function kill(layout: ClusterLayout, instance: string, signal: string): Promise<number> {
  const answer = await control(layout, 'POST', `/kill?instance=${encodeURIComponent(instance)}&signal=${encodeURIComponent(signal)}`);
  if (!answer) return notRunning(layout);
  const body = answer.body as { error?: string; pid?: number };
  if (answer.status !== 200) return fail(`easel: ${body.error}`);
  const after = signal === 'SIGSTOP' ? `; it is frozen until "easel kill ${instance} --signal SIGCONT"` : signal === 'SIGCONT' ? '' : '; the launcher will restart it';
  console.log(`easel: sent ${signal} to every process of ${instance} (pid ${body.pid})${after}`);
  return 0;
}

async function logs(layout: ClusterLayout, instance: string, lines: number, follow: boolean): Promise<number> {
  const path = layoutPaths(layout).logFile(instance);
  if (!existsSync(path)) return fail(`easel: no log for "${instance}" (${path})`);
  process.stdout.write(`${tailFile(path, Number.isFinite(lines) && lines > 0 ? lines : 60)}\n`);
  if (!follow) return 0;
  let offset = statSync(path).size;
  await new Promise<void>((resolve) => {
    const onChange = () => {
      const size = statSync(path).size;
      if (size < offset) offset = 0;
      if (size === offset) return;
      const fd = openSync(path, 'r');
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      closeSync(fd);
      offset = size;
      process.stdout.write(buffer);
    };
    watchFile(path, { interval: 250 }, onChange);
    process.once('SIGINT', () => {
      unwatchFile(path);
      resolve();
    });
  });
  return 0;
}

async function backup(layout: ClusterLayout, config: LauncherConfig, directory: string): Promise<number> {
  try {
    const manifest = await backupDatabases(layout, config, directory, (line) => console.log(`easel: ${line}`));
    console.log(`easel: backed up ${manifest.databases.join(', ')} into ${directory}`);
    return 0;
  } catch (error) {
    return fail(`easel: backup failed: ${(error as Error).message}`);
  }
}

async function restore(layout: ClusterLayout, config: LauncherConfig, directory: string): Promise<number> {
  try {
    const manifest = await restoreDatabases(layout, config, directory, (line) => console.log(`easel: ${line}`));
    console.log(`easel: restored ${manifest.databases.join(', ')} from the backup of ${manifest.createdAt}`);
    return 0;
  } catch (error) {
    return fail(`easel: restore failed: ${(error as Error).message}`);
  }
}

function killRecordedGroups(layout: ClusterLayout): void {
  try {
    const recorded = JSON.parse(readFileSync(layoutPaths(layout).pidsFile, 'utf8')) as Record<string, { pid: number }>;
    for (const { pid } of Object.values(recorded)) signalGroup(pid, 'SIGKILL');
  } catch {
    // nothing recorded
  }
}

function fail(message: string): number {
  console.error(message);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(errorCode(error) === LayoutError.code || errorCode(error) === ConfigError.code ? error.message : `easel: ${error.stack ?? error.message}`);
    process.exit(2);
  },
);

