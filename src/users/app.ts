import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import { databaseHealthCheck, failoverProbeOf, openServiceDatabase } from '../platform/db/database.js';
import { rideThroughHandlers } from '../platform/db/failover.js';
import { registerRpcService } from '../platform/rpc/server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { usersAccess } from '../contracts/access.js';
import { usersContract } from '../contracts/users.js';
import type { UsersConfig } from './config.js';
import { usersMigrations } from './migrations.js';
import { createUsersRepository } from './users.repository.js';
import { createPasswordHasher, scryptCost } from './passwords.js';
import { openSigningKeyRing } from './signing-keys.js';
import { createSigningKeysRepository } from './signing-keys.repository.js';
import { usersHandlers } from './handlers.js';
import { checkPasswordWordsPresent } from './password-words.js';
import { systemClock, type Clock } from '../platform/clock.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { ImagesContract } from '../contracts/images.js';
import { createFailpoints } from '../platform/failpoints.js';
import { phaseTwoDatabase, startPreparedResolver } from '../platform/db/two-phase.js';
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
  checkPasswordWordsPresent();
  const sql = await openServiceDatabase({ url: config.DATABASE_URL, password: config.DATABASE_PASSWORD, logger, service: 'users', migrations: usersMigrations, metrics: deps.metrics });
  let closeSigningKeys = () => undefined as void;
  const phaseTwo = phaseTwoDatabase(sql, { url: config.DATABASE_URL, password: config.DATABASE_PASSWORD, logger });
  try {
    const repo = createUsersRepository(sql, phaseTwo);
    // Sealed at rest, rotated, shared by every replica through the table (signing-keys.ts).
    const clock = deps.clock ?? systemClock;
    const signingKeys = await openSigningKeyRing({
      repo: createSigningKeysRepository(sql),
      secret: config.SIGNING_KEY_SECRET,
      clock,
      logger,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      rotationSeconds: config.SIGNING_KEY_ROTATION_DAYS * 24 * 3600,
      refreshSeconds: 60,
    });
    closeSigningKeys = signingKeys.close;
    const app = createHttpServer({ logger, metrics: deps.metrics, healthCheck: databaseHealthCheck(sql) });
    // A database failover holds requests instead of failing them (platform/db/failover.ts).
    // Register keys its insert by a user id fixed per request, so a re-run after a cut
    // connection finds the account its earlier attempt created instead of "existing username".
    registerRpcService(app, usersContract, rideThroughHandlers(usersContract.methods, usersHandlers({
      repo,
      hasher: createPasswordHasher(scryptCost(config.SCRYPT_LOG2_COST, config.SCRYPT_PARALLELISM), { concurrency: config.HASH_CONCURRENCY }),
      signingKeys,
      clock,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    }, config.UPLOAD_QUOTA, deps.metrics, createFailpoints(config.EASEL_FAILPOINTS, logger)), failoverProbeOf(sql), { keyedByRequest: ['Register'] }), { credentials: credentialsFor(config, usersContract.serviceName), access: usersAccess });
    const resolver = deps.images ? startPreparedResolver({
      sql: phaseTwo, service: 'users', logger, metrics: deps.metrics, clock: deps.clock ?? systemClock,
      olderThanMs: config.PREPARED_RESOLVE_AFTER_MS, intervalMs: config.PREPARED_RESOLVE_INTERVAL_MS,
      decision: askCoordinator(deps.images),
    }) : undefined;
    app.addHook('onClose', async () => {
      resolver?.stop();
      signingKeys.close();
      await Promise.all([sql.end({ timeout: 5 }), phaseTwo.end({ timeout: 5 })]);
    });
    return app;
  } catch (error) {
    closeSigningKeys();
    await Promise.all([sql.end({ timeout: 1 }), phaseTwo.end({ timeout: 1 })]).catch(() => undefined);
    throw error;
  }
}
