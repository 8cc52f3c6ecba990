import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { RpcClient } from '../platform/rpc/client.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, failoverProbeOf, openServiceDatabase } from '../platform/db/database.js';
import { rideThroughHandlers } from '../platform/db/failover.js';
import { registerRpcService } from '../platform/rpc/server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { imagesAccess } from '../contracts/access.js';
import { imagesContract } from '../contracts/images.js';
import type { UsersContract } from '../contracts/users.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { ImagesConfig } from './config.js';
import { imagesMigrations } from './migrations.js';
import { imagesRepository } from './images.repository.js';
import { imagesHandlers } from './handlers.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { createFailpoints } from '../platform/failpoints.js';
import { phaseTwoDatabase, startPreparedResolver } from '../platform/db/two-phase.js';
import { imageTransactions, startRecovery } from './upload-transactions.js';
import { transactionMetrics } from './transaction-metrics.js';
import { transactionLog } from './transaction-log.repository.js';

export interface ImagesAppDeps {
  config: ImagesConfig;
  logger: Logger;
  metrics: Registry;
  users: RpcClient<UsersContract['methods']>;
  recommendations: RpcClient<RecommendationsContract['methods']>;
  /** Tests move time forward to see stuck transactions recovered; the system clock otherwise. */
  clock?: Clock;
}

/** Builds the images service: its database, migrations and RPC methods. Tests call this directly. */
export async function buildImagesApp(deps: ImagesAppDeps): Promise<FastifyInstance> {
  const sql = await openServiceDatabase({ url: deps.config.DATABASE_URL, password: deps.config.DATABASE_PASSWORD, logger: deps.logger, service: 'images', migrations: imagesMigrations, metrics: deps.metrics });
  const phaseTwo = phaseTwoDatabase(sql, { url: deps.config.DATABASE_URL, password: deps.config.DATABASE_PASSWORD, logger: deps.logger });
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const limits = { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS, decodeBudgetSeconds: config.IMAGE_DECODE_BUDGET_SECONDS };
  const transactions = imageTransactions({
    mode: config.UPLOAD_TRANSACTION, sql, phaseTwo, users: deps.users, recommendations: deps.recommendations, limits, clock, logger,
    failpoints: createFailpoints(config.EASEL_FAILPOINTS, logger),
    metrics: transactionMetrics(deps.metrics, transactionLog(sql), clock),
    recoverAfterMs: config.TRANSACTION_RECOVER_AFTER_MS,
  });
  // A database failover holds requests instead of failing them (platform/db/failover.ts).
  registerRpcService(app, imagesContract, rideThroughHandlers(imagesContract.methods, imagesHandlers({
    repository: imagesRepository(sql),
    users: deps.users,
    recommendations: deps.recommendations,
    limits,
    transactions,
  }), failoverProbeOf(sql)), { credentials: credentialsFor(deps.config, imagesContract.serviceName), access: imagesAccess });
  logger.info({ uploadTransaction: config.UPLOAD_TRANSACTION }, 'upload transactions');
  // Every instance recovers; FOR UPDATE SKIP LOCKED gives each stuck transaction to one of them.
  const recovery = startRecovery(transactions, { intervalMs: config.TRANSACTION_RECOVERY_INTERVAL_MS, clock, logger });
  // Its own prepared transactions too, should one outlive its log entry's handling.
  const resolver = startPreparedResolver({
    sql: phaseTwo, service: 'images', logger, metrics: deps.metrics, clock,
    olderThanMs: config.PREPARED_RESOLVE_AFTER_MS, intervalMs: config.PREPARED_RESOLVE_INTERVAL_MS,
    decision: (txId) => transactions.decision(txId),
  });
  app.addHook('onClose', async () => {
    recovery.stop();
    resolver.stop();
    await Promise.all([sql.end({ timeout: 5 }), phaseTwo.end({ timeout: 5 })]);
  });
  return app;
}
