import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/platform/ports.js';
import { waitFor } from '../../../src/platform/wait.js';
import { createLogger } from '../../../src/platform/log.js';
import { createRpcClient, type RpcClient, type RpcTransport } from '../../../src/platform/rpc/client.js';
import { testClusterSecret, testCredentials, trustedTestTransport } from '../../support/credentials.js';
import { createDiscoveryTransport, type DiscoveryTransport } from '../../../src/platform/rpc/discovery-transport.js';
import { usersContract, type UsersContract } from '../../../src/contracts/users.js';
import { imagesContract, type ImagesContract } from '../../../src/contracts/images.js';
import type { UploadTransactionMode } from '../../../src/contracts/transactions.js';
import { startDiscoveryReplica, type DiscoveryReplicaHandle } from '../../support/service-processes.js';
import { integrationPostgres } from '../../harness/context.js';
import type { TransactionService } from './consistency.js';

export type { TransactionService };

// The three services of the upload transaction as real processes (run from the sources) against
// the integration tier's PostgreSQL, with one discovery replica: a test arms a failpoint in one
// of them, watches it SIGKILL itself mid-transaction, starts it again and checks what recovery left.

const services: readonly TransactionService[] = ['users', 'recommendations', 'images'];
const mainOf = (service: TransactionService) => fileURLToPath(new URL(`../../../src/${service}/main.ts`, import.meta.url));

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Short timeouts so that recovery happens within a test. */
export const recoveryEnv = {
  TRANSACTION_RECOVER_AFTER_MS: '800',
  TRANSACTION_RECOVERY_INTERVAL_MS: '200',
  PREPARED_RESOLVE_AFTER_MS: '1200',
  PREPARED_RESOLVE_INTERVAL_MS: '200',
};

interface ServiceProcess {
  port: number;
  child: ChildProcess | undefined;
  output: string;
}

export interface TransactionProcesses {
  mode: UploadTransactionMode;
  databases: Record<TransactionService, string>;
  users: RpcClient<UsersContract['methods']>;
  images: RpcClient<ImagesContract['methods']>;
  /** (Re)starts a service with these failpoints armed (none: a plain start), images in `mode` (default the cluster's); stops the running one first. */
  start(service: TransactionService, failpoints?: readonly string[], mode?: UploadTransactionMode): Promise<void>;
  /** Resolves when the service's process has exited (after a failpoint fired), with its output. */
  exited(service: TransactionService, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startTransactionProcesses(mode: UploadTransactionMode): Promise<TransactionProcesses> {
  const pg = integrationPostgres();
  const databases = {
    users: await pg.createDatabase('tx_users'),
    images: await pg.createDatabase('tx_images'),
    recommendations: await pg.createDatabase('tx_recommendations'),
  };
  const discovery: DiscoveryReplicaHandle = await startDiscoveryReplica('discovery-tx', { leaseMs: 3_000 });
  // One per run, kept across restarts: a restarted users process must unseal the key it sealed.
  const signingKeySecret = randomBytes(32).toString('base64url');
  const processes = new Map<TransactionService, ServiceProcess>();
  for (const service of services) processes.set(service, { port: await freePort(), child: undefined, output: '' });

  const stopProcess = async (service: TransactionService, signal: NodeJS.Signals) => {
    const entry = processes.get(service)!;
    const child = entry.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };

  const start = async (service: TransactionService, failpoints: readonly string[] = [], uploadMode: UploadTransactionMode = mode) => {
    await stopProcess(service, 'SIGKILL');
    const entry = processes.get(service)!;
    entry.output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', mainOf(service)], {
      // Test-only: the child inherits the test's environment plus its own settings.
      env: {
        ...process.env,
        INSTANCE_NAME: `${service}-1`,
        HOST: '127.0.0.1',
        PORT: String(entry.port),
        DISCOVERY_ADDRESSES: discovery.address,
        DATABASE_URL: databases[service],
        CLUSTER_SECRET: testClusterSecret,
        SIGNING_KEY_SECRET: signingKeySecret,
        UPLOAD_TRANSACTION: uploadMode,
        SCRYPT_LOG2_COST: '10',
        LOG_LEVEL: 'warn',
        EASEL_FAILPOINTS: failpoints.join(','),
        ...recoveryEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const append = (chunk: Buffer) => {
      entry.output = (entry.output + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    entry.child = child;
    await waitFor(`${service} on ${entry.port}`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${service} exited: ${entry.output}`);
      const response = await fetch(`http://127.0.0.1:${entry.port}/health`).catch(() => undefined);
      return response?.ok === true;
    }, { timeoutMs: 60_000, intervalMs: 50 });
  };

  // A fresh client after every (re)start: a breaker the old one opened on the killed process
  // would refuse the next call without sending it.
  let transport: DiscoveryTransport | undefined;
  let clientTransports: RpcTransport[] = [];
  let clients: { users: RpcClient<UsersContract['methods']>; images: RpcClient<ImagesContract['methods']> } | undefined;
  const connect = async () => {
    const previous = transport;
    transport = createDiscoveryTransport({
      credentials: testCredentials(), discovery: [discovery.address], mode: 'snapshot', perTryTimeoutMs: 15_000, refreshMs: 200,
      logger: createLogger({ name: 'test-client', level: 'silent' }),
    });
    // Calls go to the fixed ports as their legitimate caller would make them (the gateway, for a user).
    const previousClients = clientTransports;
    clientTransports = [trustedTestTransport(`http://127.0.0.1:${processes.get('users')!.port}`), trustedTestTransport(`http://127.0.0.1:${processes.get('images')!.port}`)];
    clients = { users: createRpcClient(usersContract, clientTransports[0]!), images: createRpcClient(imagesContract, clientTransports[1]!) };
    await Promise.all(previousClients.map((client) => client.close?.()));
    await previous?.close();
    const current = transport;
    await waitFor('all three services registered', async () => {
      await current.refresh();
      return ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE'].every((name) => current.instancesOf(name).length > 0);
    }, { timeoutMs: 20_000, intervalMs: 100 });
  };
  const restart = async (service: TransactionService, failpoints: readonly string[] = [], uploadMode: UploadTransactionMode = mode) => {
    await start(service, failpoints, uploadMode);
    await connect();
  };
  const stopAll = async () => {
    await transport?.close();
    await Promise.all(clientTransports.map((client) => client.close?.()));
    for (const service of [...services].reverse()) await stopProcess(service, 'SIGTERM');
    await discovery.kill();
  };
  try {
    for (const service of services) await start(service);
    await connect();
  } catch (error) {
    // A start that failed leaves nothing running behind it (discovery and the services started so far).
    await stopAll();
    throw error;
  }

  return {
    mode,
    databases,
    get users() {
      return clients!.users;
    },
    get images() {
      return clients!.images;
    },
    start: restart,
    async exited(service, timeoutMs = 20_000) {
      const entry = processes.get(service)!;
      const child = entry.child!;
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${service} did not die: ${entry.output}`)), timeoutMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return entry.output;
    },
    stop: stopAll,
  };
}

