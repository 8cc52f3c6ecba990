import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { createRpcClient, fixedTransport, type RpcTransport } from '../../src/platform/rpc/client.js';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { buildUsersApp } from '../../src/users/app.js';
import { usersConfigSchema } from '../../src/users/config.js';
import { buildImagesApp } from '../../src/images/app.js';
import { imagesConfigSchema } from '../../src/images/config.js';
import { buildRecommendationsApp } from '../../src/recommendations/app.js';
import { recommendationsConfigSchema } from '../../src/recommendations/config.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import { gatewayConfigSchema } from '../../src/gateway/config.js';
import { type SharedState } from '../../src/gateway/shared-state.js';
import { inMemorySharedState } from '../fakes/shared-state.js';
import { loadConfig } from '../../src/platform/config.js';

// The domain services and a gateway, built in-process through their exported builders on
// port 0, each against a fresh database, wired with direct RPC transports (no discovery).
// For tests that go "through the gateway" without the whole cluster.

export interface StackOptions {
  /** Extra environment per process, e.g. { users: { UPLOAD_QUOTA: '2' } }. */
  env?: Partial<Record<'users' | 'images' | 'recommendations' | 'gateway', Record<string, string>>>;
  /** Shared gateway state; defaults to an in-memory one. */
  sharedState?: SharedState;
  /** Collects every log line of every process (for tests that grep logs). */
  logSink?: string[];
  /** Makes a fresh database; defaults to the integration tier's shared PostgreSQL. */
  createDatabase?: (prefix: string) => Promise<string>;
}

export interface RunningService {
  url: string;
  app: FastifyInstance;
}

export interface Stack {
  gatewayUrl: string;
  gateway: RunningService;
  users: RunningService;
  images: RunningService;
  recommendations: RunningService;
  sharedState: SharedState;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Imported lazily: the integration context needs vitest, benchmarks pass their own databases.
  const createDatabase = options.createDatabase ?? (await import('./context.js')).integrationPostgres().createDatabase;
  const [usersDb, imagesDb, recommendationsDb] = await Promise.all([
    createDatabase('users'),
    createDatabase('images'),
    createDatabase('recommendations'),
  ]);
  const transports: RpcTransport[] = [];
  const started: FastifyInstance[] = [];
  const logger = (name: string): Logger => createLogger({ name, level: options.logSink ? 'debug' : 'warn', destination: sinkFor(options.logSink) });
  const serviceEnv = (name: string, databaseUrl: string, extra: Record<string, string> | undefined) => ({
    INSTANCE_NAME: name, DATABASE_URL: databaseUrl, EASEL_TEST_MODE: 'true', ...extra,
  });
  const listen = async (app: FastifyInstance): Promise<RunningService> => {
    started.push(app);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, url: address };
  };
  const transportTo = (url: string) => {
    const transport = fixedTransport(url);
    transports.push(transport);
    return transport;
  };

  try {
    const users = await listen(await buildUsersApp({
      config: loadConfig(usersConfigSchema, serviceEnv('users-1', usersDb, options.env?.users)),
      logger: logger('users-1'),
      metrics: createMetricsRegistry('users-1', { defaults: false }),
    }));
    const recommendations = await listen(await buildRecommendationsApp({
      config: loadConfig(recommendationsConfigSchema, serviceEnv('recommendations-1', recommendationsDb, options.env?.recommendations)),
      logger: logger('recommendations-1'),
      metrics: createMetricsRegistry('recommendations-1', { defaults: false }),
    }));
    const images = await listen(await buildImagesApp({
      config: loadConfig(imagesConfigSchema, serviceEnv('images-1', imagesDb, options.env?.images)),
      logger: logger('images-1'),
      metrics: createMetricsRegistry('images-1', { defaults: false }),
      users: createRpcClient(usersContract, transportTo(users.url)),
      recommendations: createRpcClient(recommendationsContract, transportTo(recommendations.url)),
    }));
    const sharedState = options.sharedState ?? inMemorySharedState();
    const gateway = await listen(await buildGatewayApp({
      config: loadConfig(gatewayConfigSchema, { INSTANCE_NAME: 'gateway', GATEWAY_WORKERS: '1', EASEL_TEST_MODE: 'true', ...options.env?.gateway }),
      logger: logger('gateway'),
      metrics: createMetricsRegistry('gateway', { defaults: false }),
      users: createRpcClient(usersContract, transportTo(users.url)),
      images: createRpcClient(imagesContract, transportTo(images.url)),
      recommendations: createRpcClient(recommendationsContract, transportTo(recommendations.url)),
      sharedState,
    }));
    return {
      gatewayUrl: gateway.url,
      gateway, users, images, recommendations, sharedState,
      stop: () => stopAll(started, transports),
    };
  } catch (error) {
    await stopAll(started, transports);
    throw error;
  }
}

async function stopAll(apps: FastifyInstance[], transports: RpcTransport[]): Promise<void> {
  for (const app of [...apps].reverse()) await app.close().catch(() => undefined);
  await Promise.allSettled(transports.map((t) => t.close?.()));
}

function sinkFor(lines: string[] | undefined): Writable | undefined {
  if (!lines) return undefined;
  return new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
}
