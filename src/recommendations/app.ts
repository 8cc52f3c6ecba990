import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, failoverProbeOf, openServiceDatabase } from '../platform/db/database.js';
import { rideThroughHandlers } from '../platform/db/failover.js';
import { registerRpcService } from '../platform/rpc/server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { recommendationsAccess } from '../contracts/access.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import type { RecommendationsConfig } from './config.js';
import { daysToMs } from './interests.js';
import { systemClock, type Clock } from '../platform/clock.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { ImagesContract } from '../contracts/images.js';
import { createFailpoints } from '../platform/failpoints.js';
import { phaseTwoDatabase, startPreparedResolver } from '../platform/db/two-phase.js';
import { askCoordinator } from '../contracts/transactions.js';
import { recommendationsMigrations } from './migrations.js';
import { createRecommendationsRepository } from './recommendations.repository.js';
import { createRecommendationsHandlers, defaultRecommendationSettings } from './handlers.js';

export interface RecommendationsAppDeps {
  config: RecommendationsConfig;
  logger: Logger;
  metrics: Registry;
  /** Tests move time forward to see interests decay; the system clock otherwise. */
  clock?: Clock;
  /** The upload coordinator, asked about prepared transactions left behind; without it they wait for the coordinator. */
  images?: Pick<RpcClient<ImagesContract['methods']>, 'TransactionOutcome'>;
}

/** Builds the recommendations service: its database, migrations and RPC handlers. Tests call this directly. */
export async function buildRecommendationsApp(deps: RecommendationsAppDeps): Promise<FastifyInstance> {
  const sql = await openServiceDatabase({
    url: deps.config.DATABASE_URL, password: deps.config.DATABASE_PASSWORD, logger: deps.logger, maxConnections: deps.config.DATABASE_POOL_SIZE,
    service: 'recommendations', migrations: recommendationsMigrations, metrics: deps.metrics,
  });
  const phaseTwo = phaseTwoDatabase(sql, { url: deps.config.DATABASE_URL, password: deps.config.DATABASE_PASSWORD, logger: deps.logger });
  const halfLifeMs = daysToMs(deps.config.INTEREST_HALF_LIFE_DAYS);
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
  const clock = deps.clock ?? systemClock;
  const resolver = deps.images ? startPreparedResolver({
    sql: phaseTwo, service: 'recommendations', logger: deps.logger, metrics: deps.metrics, clock,
    olderThanMs: deps.config.PREPARED_RESOLVE_AFTER_MS, intervalMs: deps.config.PREPARED_RESOLVE_INTERVAL_MS,
    decision: askCoordinator(deps.images),
  }) : undefined;
  app.addHook('onClose', async () => {
    resolver?.stop();
    await Promise.all([sql.end({ timeout: 5 }), phaseTwo.end({ timeout: 5 })]);
  });
  // A database failover holds requests instead of failing them (platform/db/failover.ts).
  registerRpcService(app, recommendationsContract, rideThroughHandlers(recommendationsContract.methods, createRecommendationsHandlers({
    repository: createRecommendationsRepository(sql, { halfLifeMs, phaseTwo }),
    clock,
    settings: { halfLifeMs, ...defaultRecommendationSettings },
    failpoints: createFailpoints(deps.config.EASEL_FAILPOINTS, deps.logger),
  }), failoverProbeOf(sql)), { credentials: credentialsFor(deps.config, recommendationsContract.serviceName), access: recommendationsAccess });
  return app;
}
