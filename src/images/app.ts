import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { RpcClient } from '../platform/rpc/client.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, openServiceDatabase } from '../platform/db/database.js';
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

export interface ImagesAppDeps {
  config: ImagesConfig;
  logger: Logger;
  metrics: Registry;
  users: RpcClient<UsersContract['methods']>;
  recommendations: RpcClient<RecommendationsContract['methods']>;
}

/** Builds the images service: its database, migrations and RPC methods. Tests call this directly. */
export async function buildImagesApp(deps: ImagesAppDeps): Promise<FastifyInstance> {
  const sql = await openServiceDatabase({ url: deps.config.DATABASE_URL, logger: deps.logger, service: 'images', migrations: imagesMigrations, metrics: deps.metrics });
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
  registerRpcService(app, imagesContract, imagesHandlers({
    repository: imagesRepository(sql),
    users: deps.users,
    recommendations: deps.recommendations,
    limits: { maxBytes: deps.config.MAX_IMAGE_BYTES, maxPixels: deps.config.MAX_IMAGE_PIXELS },
  }), { credentials: credentialsFor(deps.config, imagesContract.serviceName), access: imagesAccess });
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 });
  });
  return app;
}
