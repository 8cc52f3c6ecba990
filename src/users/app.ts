import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, openServiceDatabase } from '../platform/db/database.js';
import { registerRpcService } from '../platform/rpc/server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { usersAccess } from '../contracts/access.js';
import { usersContract } from '../contracts/users.js';
import type { UsersConfig } from './config.js';
import { usersMigrations } from './migrations.js';
import { createUsersRepository } from './users.repository.js';
import { createPasswordHasher, scryptCost } from './passwords.js';
import { generateSigningKeyMaterial, loadSigningKey } from './tokens.js';
import { usersHandlers } from './handlers.js';
import { systemClock, type Clock } from '../platform/clock.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { ImagesContract } from '../contracts/images.js';
import { createFailpoints } from '../platform/failpoints.js';
import { startPreparedResolver } from '../platform/db/two-phase.js';
import { askCoordinator } from '../contracts/transactions.js';

export interface UsersAppDeps {
  config: UsersConfig;
  logger: Logger;
  metrics: Registry;
  /** Tests may pass their own clock (token expiry); the system clock otherwise. */
  clock?: Clock;
  /** The upload coordinator, asked about prepared transactions left behind; without it they wait for the coordinator. */
  images?: Pick<RpcClient<ImagesContract['methods']>, 'TransactionOutcome'>;
}

/** Builds the users service: migrations, the shared signing key, and the Users RPC methods. Tests call this directly. */
export async function buildUsersApp(deps: UsersAppDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const sql = await openServiceDatabase({ url: config.DATABASE_URL, logger, service: 'users', migrations: usersMigrations, metrics: deps.metrics });
  try {
    const repo = createUsersRepository(sql);
    // Every replica proposes a key; the first insert wins and all of them sign with that one.
    const signingKey = await loadSigningKey(await repo.ensureSigningKey(await generateSigningKeyMaterial()));
    const app = createHttpServer({ logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
    registerRpcService(app, usersContract, usersHandlers({
      repo,
      hasher: createPasswordHasher(scryptCost(config.SCRYPT_LOG2_COST)),
      signingKey,
      clock: deps.clock ?? systemClock,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    }, config.UPLOAD_QUOTA, deps.metrics, createFailpoints(config.EASEL_FAILPOINTS, logger)), { credentials: credentialsFor(config, usersContract.serviceName), access: usersAccess });
    const resolver = deps.images ? startPreparedResolver({
      sql, service: 'users', logger, metrics: deps.metrics, clock: deps.clock ?? systemClock,
      olderThanMs: config.PREPARED_RESOLVE_AFTER_MS, intervalMs: config.PREPARED_RESOLVE_INTERVAL_MS,
      decision: askCoordinator(deps.images),
    }) : undefined;
    app.addHook('onClose', async () => {
      resolver?.stop();
      await sql.end({ timeout: 5 });
    });
    return app;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw error;
  }
}
