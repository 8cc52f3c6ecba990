import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, openServiceDatabase } from '../platform/db/database.js';
import { registerRpcService } from '../platform/rpc/server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { recommendationsAccess } from '../contracts/access.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import type { RecommendationsConfig } from './config.js';
import { daysToMs } from './interests.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { recommendationsMigrations } from './migrations.js';
import { createRecommendationsRepository } from './recommendations.repository.js';
import { createRecommendationsHandlers, defaultRecommendationSettings } from './handlers.js';

export interface RecommendationsAppDeps {
  config: RecommendationsConfig;
  logger: Logger;
  metrics: Registry;
  /** Tests move time forward to see interests decay; the system clock otherwise. */
  clock?: Clock;
}

/** Builds the recommendations service: its database, migrations and RPC handlers. Tests call this directly. */
export async function buildRecommendationsApp(deps: RecommendationsAppDeps): Promise<FastifyInstance> {
  const sql = await openServiceDatabase({
    url: deps.config.DATABASE_URL, logger: deps.logger, maxConnections: deps.config.DATABASE_POOL_SIZE,
    service: 'recommendations', migrations: recommendationsMigrations, metrics: deps.metrics,
  });
  const halfLifeMs = daysToMs(deps.config.INTEREST_HALF_LIFE_DAYS);
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 });
  });
  registerRpcService(app, recommendationsContract, createRecommendationsHandlers({
    repository: createRecommendationsRepository(sql, { halfLifeMs }),
    clock: deps.clock ?? systemClock,
    settings: { halfLifeMs, ...defaultRecommendationSettings },
  }), { credentials: credentialsFor(deps.config, recommendationsContract.serviceName), access: recommendationsAccess });
  return app;
}
