import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/platform/ports.js';
import { waitFor } from '../../src/platform/wait.js';
import { testClusterSecret } from './credentials.js';

// Real processes for discovery integration tests: discovery replicas and small registering
// services, run from the TypeScript sources, that a test can SIGKILL, SIGSTOP and restart.

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const discoveryMain = here('../../src/discovery/main.ts');
const echoInstanceMain = here('./echo-instance-main.ts');

/** Every child still running; killed if the test process exits first (a failed setup, a crash). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function runTs(script: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    // Test-only: a child process inherits the parent's environment plus its own settings.
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGCONT');
  child.kill(signal);
  await exited;
}

function collectOutput(child: ChildProcess): () => string {
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => output;
}

export interface DiscoveryReplicaHandle {
  address: string;
  port: number;
  /** SIGKILL. */
  kill(): Promise<void>;
  /** Starts it again on the same port, with an empty registry. */
  restart(): Promise<void>;
}

export async function startDiscoveryReplica(name: string, options: { leaseMs?: number; ticketTtlMs?: number; port?: number; metricsPort?: number } = {}): Promise<DiscoveryReplicaHandle> {
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  const start = async () => {
    child = runTs(discoveryMain, [], {
      INSTANCE_NAME: name,
      HOST: '127.0.0.1',
      PORT: String(port),
      LEASE_MS: String(options.leaseMs ?? 5_000),
      TICKET_TTL_MS: String(options.ticketTtlMs ?? 30_000),
      LOG_LEVEL: 'warn',
      CLUSTER_SECRET: testClusterSecret,
      SERVICE_NAMES: 'USER SERVICE,IMAGE SERVICE,RECOMMENDATION SERVICE,ECHO SERVICE',
      METRICS_PORT: String(options.metricsPort ?? 0),
    });
    const output = collectOutput(child);
    const started = child;
    await waitFor(`discovery ${name} on ${port}`, async () => {
      if (started.exitCode !== null) throw new Error(`exited: ${output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      return response.ok;
    }, { timeoutMs: 60_000, intervalMs: 50 });
  };
  await start();
  return { address: `127.0.0.1:${port}`, port, kill: () => kill(child, 'SIGKILL'), restart: start };
}

export interface ServiceProcessHandle {
  host: string;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
  freeze(): void;
  thaw(): void;
}

/** A real echo service process that registers with the given discovery replicas. */
export async function startEchoInstance(discovery: readonly string[], serviceName: string, instance: string): Promise<ServiceProcessHandle> {
  const child = runTs(echoInstanceMain, [discovery.join(','), serviceName, instance]);
  const output = collectOutput(child);
  const lines = createInterface({ input: child.stdout! });
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo instance ${instance} did not start: ${output()}`)), 60_000);
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve(line.slice(6).trim());
      }
    });
    child.once('exit', () => reject(new Error(`echo instance ${instance} exited: ${output()}`)));
  });
  return {
    host,
    child,
    kill: (signal = 'SIGKILL') => kill(child, signal),
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
  };
}
