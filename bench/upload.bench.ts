import { randomUUID } from 'node:crypto';
import { createLogger } from '../src/platform/log.js';
import { createMetricsRegistry } from '../src/platform/metrics.js';
import { loadConfig } from '../src/platform/config.js';
import { systemClock } from '../src/platform/clock.js';
import { noFailpoints } from '../src/platform/failpoints.js';
import { openServiceDatabase } from '../src/platform/db/database.js';
import { createRpcClient, fixedTransport } from '../src/platform/rpc/client.js';
import { usersContract } from '../src/contracts/users.js';
import { recommendationsContract } from '../src/contracts/recommendations.js';
import type { UploadTransactionMode } from '../src/contracts/transactions.js';
import { buildUsersApp } from '../src/users/app.js';
import { usersConfigSchema } from '../src/users/config.js';
import { buildRecommendationsApp } from '../src/recommendations/app.js';
import { recommendationsConfigSchema } from '../src/recommendations/config.js';
import { imagesMigrations } from '../src/images/migrations.js';
import { imagesRepository } from '../src/images/images.repository.js';
import { imagesHandlers } from '../src/images/handlers.js';
import { imageTransactions } from '../src/images/upload-transactions.js';
import { transactionMetrics } from '../src/images/transaction-metrics.js';
import { transactionLog } from '../src/images/transaction-log.repository.js';
import { startPostgres } from '../test/harness/postgres.js';
import { gatewayServiceName, testClusterSecret, testCredentials, trustedTestTransport } from '../test/support/credentials.js';
import { imagesContract } from '../src/contracts/images.js';
import { makeImage } from '../test/fixtures/images.js';
import { numberArg, reportRatios, runInterleaved, type BenchCase } from './interleaved.js';

// Uploads per second and p99 of the three upload flows, in one run against one PostgreSQL:
// "direct" (the old in-memory flow: reserve, store, index, undo on a handled failure), the
// saga (a durable log row per step) and two-phase commit (three PREPARE TRANSACTIONs, a
// decision record, three COMMIT PREPAREDs). The images handlers are called in-process; users
// and recommendations are real services over HTTP RPC. Authors rotate over 16 accounts.
//
//   npm run bench:upload -- [--duration=6000] [--rounds=3] [--concurrency=8]

const durationMs = numberArg('duration', 6_000);
const warmupMs = numberArg('warmup', 1_000);
const rounds = numberArg('rounds', 3);
const concurrency = numberArg('concurrency', 8);

const logger = createLogger({ name: 'bench-upload', level: 'warn' });
const postgres = await startPostgres();
const closers: Array<() => Promise<unknown>> = [() => postgres.stop()];
try {
  const env = async (name: string, extra: Record<string, string> = {}) => ({ INSTANCE_NAME: name, CLUSTER_SECRET: testClusterSecret, DATABASE_URL: await postgres.createDatabase(name.replace(/-/g, '_')), ...extra });
  const users = await buildUsersApp({
    config: loadConfig(usersConfigSchema, await env('bench-users', { SCRYPT_LOG2_COST: '10', UPLOAD_QUOTA: '100000000', SIGNING_KEY_SECRET: 'bench-upload-signing-key-secret-0123456789abcdef' })),
    logger, metrics: createMetricsRegistry('users', { defaults: false }),
  });
  const recommendations = await buildRecommendationsApp({
    config: loadConfig(recommendationsConfigSchema, await env('bench-recs')), logger, metrics: createMetricsRegistry('recs', { defaults: false }),
  });
  // The images handlers run here, calling users and recommendations as the images service.
  const usersTransport = fixedTransport(await users.listen({ host: '127.0.0.1', port: 0 }), { credentials: testCredentials(imagesContract.serviceName) });
  const recommendationsTransport = fixedTransport(await recommendations.listen({ host: '127.0.0.1', port: 0 }), { credentials: testCredentials(imagesContract.serviceName) });
  const gatewayToUsers = trustedTestTransport(`http://127.0.0.1:${(users.server.address() as { port: number }).port}`);
  closers.push(async () => gatewayToUsers.close?.());
  closers.push(() => users.close(), () => recommendations.close(), () => usersTransport.close?.() ?? Promise.resolve(), () => recommendationsTransport.close?.() ?? Promise.resolve());
  const usersClient = createRpcClient(usersContract, usersTransport);
  const recommendationsClient = createRpcClient(recommendationsContract, recommendationsTransport);

  const imagesUrl = (await env('bench-images')).DATABASE_URL;
  const sql = await openServiceDatabase({ url: imagesUrl, logger, service: 'images', migrations: imagesMigrations, maxConnections: 20 });
  closers.push(() => sql.end({ timeout: 5 }));
  const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };
  const authors = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
    const authorName = `bench${i}_${randomUUID().slice(0, 6)}`;
    const { userId } = await createRpcClient(usersContract, gatewayToUsers).Register({ name: authorName, password: 'bench password' });
    return { authorId: userId, authorName };
  }));
  const image = await makeImage('png', 48, 48);

  const handlersFor = (mode: UploadTransactionMode | 'direct') => imagesHandlers({
    repository: imagesRepository(sql),
    users: usersClient,
    recommendations: recommendationsClient,
    limits,
    ...(mode === 'direct' ? {} : {
      transactions: imageTransactions({
        mode, sql, users: usersClient, recommendations: recommendationsClient, limits, clock: systemClock, logger, failpoints: noFailpoints,
        metrics: transactionMetrics(createMetricsRegistry(`images-${mode}`, { defaults: false }), transactionLog(sql), systemClock),
        recoverAfterMs: 60_000,
      }),
    }),
  });
  let turn = 0;
  const caseFor = (name: string, mode: UploadTransactionMode | 'direct'): BenchCase => {
    const handlers = handlersFor(mode);
    return {
      name,
      call: async () => {
        const author = authors[turn++ % authors.length]!;
        const { imageId } = await handlers.Upload({ ...author, title: 'bench', tags: ['bench', `t${turn % 7}`], image }, {
          requestId: randomUUID(), deadline: Date.now() + 30_000, idempotencyKey: randomUUID(), log: logger,
          caller: { service: gatewayServiceName, instance: 'bench-gateway', expiresAt: Math.floor(Date.now() / 1000) + 60 },
          user: { userId: author.authorId, name: author.authorName },
        });
        if (!imageId) throw new Error('no image id');
      },
    };
  };
  const results = await runInterleaved([caseFor('direct (in-memory)', 'direct'), caseFor('saga', 'saga'), caseFor('2pc', '2pc')], { durationMs, rounds, warmupMs, concurrency });
  reportRatios(`upload throughput and latency, ${concurrency} concurrent uploads (48x48 PNG, 3 variants), ${rounds} interleaved rounds`, results, 'direct (in-memory)');
  const [direct, saga, twoPhase] = results as [typeof results[0], typeof results[0], typeof results[0]];
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`\nsaga: ${ratio(saga.callsPerSecond, direct.callsPerSecond)}x the direct flow's throughput, p99 ${ratio(saga.p99Ms, direct.p99Ms)}x;`
    + ` 2pc: ${ratio(twoPhase.callsPerSecond, direct.callsPerSecond)}x throughput, p99 ${ratio(twoPhase.p99Ms, direct.p99Ms)}x;`
    + ` 2pc vs saga: ${ratio(twoPhase.callsPerSecond, saga.callsPerSecond)}x throughput, p99 ${ratio(twoPhase.p99Ms, saga.p99Ms)}x.`);
  console.log(saga.callsPerSecond >= twoPhase.callsPerSecond
    ? 'default: saga (faster here, and it holds no lock across services while waiting on the network).'
    : 'default: saga still (2pc measured faster here, but it holds the quota row and index rows locked from prepare to commit, and a lost coordinator leaves them locked until recovery).');
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}
process.exit(0);
