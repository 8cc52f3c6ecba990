import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedPorts, layoutOnFreePorts } from '../../src/launcher/layout.js';
import { repoRoot } from '../../src/launcher/paths.js';
import { portIsFree } from '../../src/platform/ports.js';
import { testLayoutDefaults } from '../harness/cluster.js';

const cli = join(repoRoot(), 'dist', 'src', 'launcher', 'cli.js');

function runCli(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Processes whose command line mentions `needle` (e.g. the cluster's data directory). */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmdline.includes(needle)) found.push(`${name}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

describe('easel up on the command line', () => {
  const dataDir = join(repoRoot(), '.easel', 'test', `cli-${randomBytes(4).toString('hex')}`);
  let blocker: Server | undefined;
  const blockerSockets = new Set<Socket>();

  afterAll(async () => {
    for (const socket of blockerSockets) socket.destroy();
    await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('names the process that failed to start, prints the tail of its log, and leaves nothing running', async () => {
    mkdirSync(dataDir, { recursive: true });
    const layout = await layoutOnFreePorts(testLayoutDefaults(dataDir));
    // Something else already listens on redis-2's port.
    const taken = layout.redis.ports[1]!;
    blocker = createServer((socket) => {
      blockerSockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blocker!.listen(taken, layout.host, resolve));
    const configFile = join(dataDir, 'layout.json');
    writeFileSync(configFile, JSON.stringify(layout));

    const result = await runCli(['up', '--config', configFile], 120_000);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('redis-2 failed to start');
    expect(result.stderr).toMatch(/last lines of .*redis-2\.log/);
    expect(result.stderr).toMatch(/Address already in use/i);
    // Whatever had started meanwhile was stopped again.
    expect(processesMentioning(dataDir)).toEqual([]);
    for (const { owner, port } of fixedPorts(layout)) {
      if (port !== taken) expect(await portIsFree(port), `${owner} (${port}) still taken`).toBe(true);
    }
  });

  it('rejects a bad layout file naming each bad value', async () => {
    mkdirSync(dataDir, { recursive: true });
    const configFile = join(dataDir, 'bad-layout.json');
    writeFileSync(configFile, JSON.stringify({ gateway: { port: 0 }, services: { users: 'two' } }));
    const result = await runCli(['status', '--config', configFile], 30_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('gateway.port');
    expect(result.stderr).toContain('services.users');
  });

  it('says so when no launcher is running', async () => {
    const result = await runCli(['status', '--data-dir', dataDir], 30_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no launcher is running');
  });
});
