import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '../../src/launcher/readiness.js';
import { redisServerConfig, serviceRedisUser } from '../../src/launcher/redis-config.js';
import { writePrivateFile } from '../../src/launcher/postgres.js';
import { freePort } from '../../src/platform/ports.js';
import { waitFor } from '../../src/platform/wait.js';

export interface RedisNodeHandle {
  name: string;
  host: string;
  port: number;
  /** SIGKILL the server. */
  kill(): Promise<void>;
  /** Start it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT, to script a hung node. */
  freeze(): void;
  thaw(): void;
}

export interface RedisRingHandle {
  nodes: RedisNodeHandle[];
  /** "name=host:port,..." as the REDIS_NODES variable takes it. */
  spec: string;
  stop(): Promise<void>;
}

/** Starts `count` real redis-server processes on free ports, without persistence. */
export async function startRedisRing(count = 4, namePrefix = 'cache'): Promise<RedisRingHandle> {
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => startRedisNode(`${namePrefix}-${i + 1}`)));
  return {
    nodes,
    spec: nodes.map((n) => `${n.name}=${n.host}:${n.port}`).join(','),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
}

/** The launcher's own configuration (ACL users, default user off, protected mode, maxmemory with volatile-lru). */
export interface SecuredRedisOptions {
  easelPassword: string;
  exporterPassword: string;
  maxMemoryMb: number;
}

/**
 * One redis-server on a free port, without persistence. Plain (open, for the integration tier's
 * shared ring) unless `secured` is given: then exactly the launcher's configuration file.
 */
export async function startRedisNode(name: string, port?: number, secured?: SecuredRedisOptions): Promise<RedisNodeHandle> {
  const chosenPort = port ?? (await freePort());
  let child: ChildProcess | undefined;
  const start = async () => {
    if (secured) {
      const dir = mkdtempSync(join(tmpdir(), 'easel-redis-'));
      const file = join(dir, 'redis.conf');
      writePrivateFile(file, redisServerConfig({ host: '127.0.0.1', port: chosenPort, maxMemoryMb: secured.maxMemoryMb, easelPassword: secured.easelPassword, exporterPassword: secured.exporterPassword, dir }), undefined);
      child = spawn('redis-server', [file], { stdio: 'ignore' });
      child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    } else {
      child = spawn('redis-server', ['--port', String(chosenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    }
    const login = secured ? { user: serviceRedisUser, password: secured.easelPassword } : undefined;
    await waitFor(`redis ${name} on ${chosenPort}`, () => redisAnswers('127.0.0.1', chosenPort, login), { timeoutMs: 10_000 });
  };
  await start();
  return {
    name,
    host: '127.0.0.1',
    port: chosenPort,
    kill: async () => {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((r) => current.once('exit', r));
      current.kill('SIGCONT');
      current.kill('SIGKILL');
      await exited;
    },
    restart: start,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
  };
}
