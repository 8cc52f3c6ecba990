import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { usersContract } from '../src/contracts/users.js';
import { imagesContract } from '../src/contracts/images.js';
import { recommendationsContract } from '../src/contracts/recommendations.js';
import { repoRoot } from '../src/launcher/paths.js';
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/log.js';
import { createMetricsRegistry } from '../src/platform/metrics.js';
import { createRpcClient, fixedTransport } from '../src/platform/rpc/client.js';
import { buildUsersApp } from '../src/users/app.js';
import { usersConfigSchema } from '../src/users/config.js';
import { hashPassword, scryptCost } from '../src/users/passwords.js';
import { gatewayConfigSchema } from '../src/gateway/config.js';
import { buildGatewayApp } from '../src/gateway/app.js';
import { inMemorySharedState } from '../test/fakes/shared-state.js';
import { startPostgres } from '../test/harness/postgres.js';
import { numberArg } from './interleaved.js';
import { testClusterSecret, testCredentials, trustedTestTransport } from '../test/support/credentials.js';

// Logins per second and latency through the gateway's POST /login: gateway worker -> users
// service (RPC) -> PostgreSQL + one scrypt verification + signing an EdDSA JWT + storing the
// refresh token. The hash cost dominates by design, so the result is stated with it: the CPU
// time of one hash at the configured cost is measured first. 127.0.0.1 only; bounded in time.
//
//   npm run bench:login -- [--duration=10000] [--concurrency=8] [--log2cost=14] [--parallelism=2]

const durationMs = Math.min(numberArg('duration', 10_000), 60_000);
const warmupMs = numberArg('warmup', 1_000);
const concurrency = numberArg('concurrency', 8);
const log2Cost = numberArg('log2cost', usersConfigSchema.shape.SCRYPT_LOG2_COST.parse(undefined));
const parallelism = numberArg('parallelism', usersConfigSchema.shape.SCRYPT_PARALLELISM.parse(undefined));
const accounts = 20;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU milliseconds of one hash at the cost, measured in this process (median and least of several; the least is the one a busy machine inflates least). */
async function measureHashCpuMs(samples = 9): Promise<{ cpuMs: number; minCpuMs: number; wallMs: number }> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < samples; i++) {
    const usage = process.cpuUsage();
    const started = performance.now();
    await hashPassword('benchmark password', scryptCost(log2Cost, parallelism));
    wall.push(performance.now() - started);
    const used = process.cpuUsage(usage);
    cpu.push((used.user + used.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  return { cpuMs: percentile(cpu, 50), minCpuMs: cpu[0]!, wallMs: percentile(wall.sort((a, b) => a - b), 50) };
}

const postgres = await startPostgres();
const logger = createLogger({ name: 'bench', level: 'warn' });
const cleanups: Array<() => Promise<unknown>> = [];
try {
  const hash = await measureHashCpuMs();
  const users = await buildUsersApp({
    config: loadConfig(usersConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'users-bench', DATABASE_URL: await postgres.createDatabase('users_bench'), SCRYPT_LOG2_COST: String(log2Cost), SCRYPT_PARALLELISM: String(parallelism), SIGNING_KEY_SECRET: 'bench-login-signing-key-secret-0123456789abcdef' }),
    logger,
    metrics: createMetricsRegistry('users-bench', { defaults: false }),
  });
  cleanups.push(() => users.close());
  const usersUrl = await users.listen({ host: '127.0.0.1', port: 0 });
  const transport = trustedTestTransport(usersUrl);
  const nowhere = fixedTransport('http://127.0.0.1:9', { credentials: testCredentials() });
  cleanups.push(() => transport.close?.() ?? Promise.resolve(), () => nowhere.close?.() ?? Promise.resolve());
  const deps = {
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'gateway-bench', GATEWAY_WORKERS: '1' }),
    logger,
    metrics: createMetricsRegistry('gateway-bench', { defaults: false }),
    users: createRpcClient(usersContract, transport),
    images: createRpcClient(imagesContract, nowhere),
    recommendations: createRpcClient(recommendationsContract, nowhere),
    sharedState: inMemorySharedState(),
  };
  const gateway = await buildGatewayApp(deps);
  cleanups.push(() => gateway.close());
  const gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const client = new Pool(gatewayUrl, { connections: concurrency });
  cleanups.push(() => client.close());

  const names = Array.from({ length: accounts }, (_, i) => `bench_user_${i}`);
  const post = async (path: string, body: unknown) => {
    const response = await client.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await response.body.dump();
    return response.statusCode;
  };
  for (const name of names) {
    const status = await post('/signup', { name, password: 'benchmark password' });
    if (status !== 201) throw new Error(`sign-up answered ${status}`);
  }

  const run = async (forMs: number) => {
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    const until = performance.now() + forMs;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const name = names[next++ % names.length]!;
        const started = performance.now();
        const status = await post('/login', { name, password: 'benchmark password' });
        latencies.push(performance.now() - started);
        if (status !== 200) errors++;
      }
    }));
    return { latencies: latencies.sort((a, b) => a - b), errors };
  };

  await run(warmupMs);
  const started = performance.now();
  const { latencies, errors } = await run(durationMs);
  const elapsedS = (performance.now() - started) / 1000;
  const result = {
    bench: 'login',
    hashCost: { algorithm: 'scrypt', N: 2 ** log2Cost, r: 8, p: parallelism, cpuMsPerHash: hash.cpuMs, minCpuMsPerHash: hash.minCpuMs, wallMsPerHash: hash.wallMs },
    settings: { durationMs, concurrency, accounts, cores: availableParallelism(), loadAverage1m: loadavg()[0] },
    logins: latencies.length,
    errors,
    loginsPerSecond: latencies.length / elapsedS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1),
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  const resultsDir = join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'login.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await postgres.stop();
}
