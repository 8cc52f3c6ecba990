import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
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
import { loadConfig } from '../../src/platform/config.js';
import { ServiceCredentials } from '../../src/platform/service-auth.js';
import { gatewayServiceName } from '../../src/contracts/access.js';
import { createCacheRing, parseCacheNodes, type CacheRing } from '../../src/platform/cache/index.js';

// The domain services and a gateway, built in-process through their exported builders on
// port 0, each against a fresh database, wired with direct RPC transports (no discovery), and
// the gateway's shared state in a real Redis ring (the integration tier's, unless given).
// For tests that go "through the gateway" without the whole cluster.

export interface StackOptions {
  /** Extra environment per process, e.g. { users: { UPLOAD_QUOTA: '2' } }. */
  env?: Partial<Record<'users' | 'images' | 'recommendations' | 'gateway', Record<string, string>>>;
  /**
   * The gateway's shared state (revocations, rate limits, image cache). Default: a client of the
   * integration tier's Redis ring (or of `redisNodes`), its keys under a prefix of this stack's own.
   */
  sharedState?: SharedState;
  /** REDIS_NODES of the ring the default shared state uses; defaults to the integration tier's. */
  redisNodes?: string;
  /** Collects every log line of every process (for tests that grep logs). */
  logSink?: string[];
  /** Makes a fresh database; defaults to the integration tier's shared PostgreSQL. */
  createDatabase?: (prefix: string) => Promise<string>;
  /**
   * Gateways sharing the services and the shared state, each with its own memory (as the
   * cluster's workers are). Default 1; the others are in `gateways`.
   */
  gateways?: number;
}

export interface RunningService {
  url: string;
  app: FastifyInstance;
}

export interface Stack {
  gatewayUrl: string;
  /** Every gateway, the first being `gateway` (see StackOptions.gateways). */
  gateways: RunningService[];
  /** The stack's cluster secret (what its processes derive their credentials from). */
  clusterSecret: string;
  gateway: RunningService;
  users: RunningService;
  images: RunningService;
  recommendations: RunningService;
  sharedState: SharedState;
  /** The ring client behind the default shared state (undefined when the test passed its own). */
  cacheRing: CacheRing | undefined;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Imported lazily: the integration context needs vitest; benchmarks pass their own servers.
  const context = options.createDatabase && (options.sharedState || options.redisNodes) ? undefined : await import('./context.js');
  const createDatabase = options.createDatabase ?? context!.integrationPostgres().createDatabase;
  const [usersDb, imagesDb, recommendationsDb] = await Promise.all([
    createDatabase('users'),
    createDatabase('images'),
    createDatabase('recommendations'),
  ]);
  const transports: RpcTransport[] = [];
  const started: FastifyInstance[] = [];
  const rings: CacheRing[] = [];
  const logger = (name: string): Logger => createLogger({ name, level: options.logSink ? 'debug' : 'warn', destination: sinkFor(options.logSink) });
  // One cluster secret per stack: its services and the gateway prove themselves to each other with it.
  const clusterSecret = randomBytes(32).toString('base64url');
  const serviceEnv = (name: string, databaseUrl: string, extra: Record<string, string> | undefined) => ({
    INSTANCE_NAME: name, DATABASE_URL: databaseUrl, CLUSTER_SECRET: clusterSecret, ...extra,
  });
  const listen = async (app: FastifyInstance): Promise<RunningService> => {
    started.push(app);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, url: address };
  };
  /** A transport that calls as `service` (e.g. the images service calling users). */
  const transportTo = (url: string, service: string) => {
    const transport = fixedTransport(url, { credentials: new ServiceCredentials({ clusterSecret, identity: { service, instance: `${service.toLowerCase()}-1` } }) });
    transports.push(transport);
    return transport;
  };

  try {
    const users = await listen(await buildUsersApp({
      config: loadConfig(usersConfigSchema, serviceEnv('users-1', usersDb, { SIGNING_KEY_SECRET: randomBytes(32).toString('base64url'), ...options.env?.users })),
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
      users: createRpcClient(usersContract, transportTo(users.url, imagesContract.serviceName)),
      recommendations: createRpcClient(recommendationsContract, transportTo(recommendations.url, imagesContract.serviceName)),
    }));
    let sharedState = options.sharedState;
    if (!sharedState) {
      const own = cacheRingSharedState(options.redisNodes ?? context!.integrationRedisSpec(), `stack:${randomBytes(4).toString('hex')}:`);
      rings.push(own.ring);
      await own.ring.ready();
      sharedState = own.state;
    }
    const gateways: RunningService[] = [];
    for (let i = 0; i < (options.gateways ?? 1); i++) {
      gateways.push(await listen(await buildGatewayApp({
        config: loadConfig(gatewayConfigSchema, { INSTANCE_NAME: 'gateway', GATEWAY_WORKERS: '1', CLUSTER_SECRET: clusterSecret, ...options.env?.gateway }),
        logger: logger('gateway'),
        metrics: createMetricsRegistry('gateway', { defaults: false }),
        users: createRpcClient(usersContract, transportTo(users.url, gatewayServiceName)),
        images: createRpcClient(imagesContract, transportTo(images.url, gatewayServiceName)),
        recommendations: createRpcClient(recommendationsContract, transportTo(recommendations.url, gatewayServiceName)),
        sharedState,
      })));
    }
    const gateway = gateways[0]!;
    return {
      gatewayUrl: gateway.url, clusterSecret,
      gateway, gateways, users, images, recommendations, sharedState, cacheRing: rings[0],
      stop: () => stopAll(started, transports, rings),
    };
  } catch (error) {
    await stopAll(started, transports, rings);
    throw error;
  }
}

/**
 * A gateway's own client of a Redis ring, every key under `prefix`: tests sharing the ring never
 * count each other's logins or uploads, nor see each other's cached images.
 */
export function cacheRingSharedState(redisNodes: string, prefix: string): { state: SharedState; ring: CacheRing } {
  // A generous command timeout: a busy test machine must not make a node look down.
  const ring = createCacheRing({ nodes: parseCacheNodes(redisNodes), logger: createLogger({ name: 'test-ring', level: 'silent' }), commandTimeoutMs: 2_000 });
  const state: SharedState = {
    get: (key) => ring.get(prefix + key),
    set: (key, value, ttlSeconds) => ring.set(prefix + key, value, ttlSeconds),
    setNeverEvicted: (key, value, ttlSeconds) => ring.setNeverEvicted(prefix + key, value, ttlSeconds),
    delete: (...keys) => ring.delete(...keys.map((k) => prefix + k)),
    incrementWithin: (key, windowSeconds) => ring.incrementWithin(prefix + key, windowSeconds),
  };
  return { state, ring };
}

async function stopAll(apps: FastifyInstance[], transports: RpcTransport[], rings: CacheRing[]): Promise<void> {
  for (const app of [...apps].reverse()) await app.close().catch(() => undefined);
  await Promise.allSettled(transports.map((t) => t.close?.()));
  await Promise.allSettled(rings.map((ring) => ring.close()));
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
