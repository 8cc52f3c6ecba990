import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { createLogger } from '../src/platform/log.js';
import { createMetricsRegistry } from '../src/platform/metrics.js';
import { loadConfig } from '../src/platform/config.js';
import { createRpcClient, fixedTransport } from '../src/platform/rpc/client.js';
import { usersContract } from '../src/contracts/users.js';
import { imagesContract } from '../src/contracts/images.js';
import { recommendationsContract } from '../src/contracts/recommendations.js';
import { buildUsersApp } from '../src/users/app.js';
import { usersConfigSchema } from '../src/users/config.js';
import { buildImagesApp } from '../src/images/app.js';
import { imagesConfigSchema } from '../src/images/config.js';
import { buildRecommendationsApp } from '../src/recommendations/app.js';
import { recommendationsConfigSchema } from '../src/recommendations/config.js';
import { buildGatewayApp } from '../src/gateway/app.js';
import { gatewayConfigSchema } from '../src/gateway/config.js';
import { inMemorySharedState } from '../test/fakes/shared-state.js';
import { startPostgres } from '../test/harness/postgres.js';
import { makeImage } from '../test/fixtures/images.js';
import { repoRoot } from '../src/launcher/paths.js';
import { numberArg } from './interleaved.js';
import { testClusterSecret, testCredentials, trustedTestTransport } from '../test/support/credentials.js';

// Image reads through the whole path: GET /{imgID} (JSON with base64, uncached: these routes
// keep no response cache) and GET /{imgID}/raw, requests per second through the gateway (gateway
// -> images service -> PostgreSQL), beside a bare Fastify serving the same bytes from memory in
// the same shapes, in one run, as ratios. The servers run in a child process (their own core);
// this process generates the load. 127.0.0.1 only; every case is bounded in time.
//
//   npm run bench:images -- [--duration=3000] [--rounds=3] [--concurrency=16] [--width=800]

const durationMs = numberArg('duration', 3_000);
const warmupMs = numberArg('warmup', 1_000);
const rounds = numberArg('rounds', 3);
const concurrency = numberArg('concurrency', 16);
const width = numberArg('width', 800);

interface ServeInfo {
  gateway: string;
  reference: string;
  imageId: string;
  bytes: number;
}

if (process.argv.includes('--serve')) await serve();
else await main();

/** Child process: PostgreSQL, users, recommendations, images, a gateway, and the bare reference. */
async function serve(): Promise<void> {
  const logger = createLogger({ name: 'bench-images', level: 'warn' });
  const metrics = (name: string) => createMetricsRegistry(name, { defaults: false });
  const postgres = await startPostgres();
  const stops: Array<() => Promise<unknown>> = [() => postgres.stop()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(0);
  };
  process.stdin.on('end', () => void stopAll());
  process.stdin.resume();
  try {
    const env = async (name: string, extra: Record<string, string> = {}) => ({ INSTANCE_NAME: name, CLUSTER_SECRET: testClusterSecret, DATABASE_URL: await postgres.createDatabase(name.replace(/-/g, '_')), ...extra });
    const users = await buildUsersApp({ config: loadConfig(usersConfigSchema, await env('bench-users', { SCRYPT_LOG2_COST: '10' })), logger, metrics: metrics('users') });
    const recommendations = await buildRecommendationsApp({ config: loadConfig(recommendationsConfigSchema, await env('bench-recs')), logger, metrics: metrics('recs') });
    const usersUrl = await users.listen({ host: '127.0.0.1', port: 0 });
    const recommendationsUrl = await recommendations.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => users.close(), () => recommendations.close());
    const images = await buildImagesApp({
      config: loadConfig(imagesConfigSchema, await env('bench-images')), logger, metrics: metrics('images'),
      users: createRpcClient(usersContract, fixedTransport(usersUrl, { credentials: testCredentials(imagesContract.serviceName) })),
      recommendations: createRpcClient(recommendationsContract, fixedTransport(recommendationsUrl, { credentials: testCredentials(imagesContract.serviceName) })),
    });
    const imagesUrl = await images.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => images.close());
    const gateway = await buildGatewayApp({
      config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'bench-gateway', GATEWAY_WORKERS: '1', LOG_LEVEL: 'warn' }),
      logger, metrics: metrics('gateway'),
      users: createRpcClient(usersContract, fixedTransport(usersUrl, { credentials: testCredentials() })),
      images: createRpcClient(imagesContract, fixedTransport(imagesUrl, { credentials: testCredentials() })),
      recommendations: createRpcClient(recommendationsContract, fixedTransport(recommendationsUrl, { credentials: testCredentials() })),
      sharedState: inMemorySharedState(),
    });
    const gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => gateway.close());

    // One real upload through the gateway.
    const usersRpc = createRpcClient(usersContract, trustedTestTransport(usersUrl));
    await usersRpc.Register({ name: 'benchartist', password: 'bench password 1' });
    const { accessToken } = await usersRpc.Login({ name: 'benchartist', password: 'bench password 1' });
    const original = await makeImage('jpeg', width, Math.round((width * 3) / 4));
    const uploaded = await fetch(`${gatewayUrl}/img`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ imageBlob: original.toString('base64'), title: 'bench', description: 'an image for the benchmark' }),
    });
    const { imageID } = (await uploaded.json()) as { imageID: string };
    if (uploaded.status !== 201) throw new Error(`upload failed: ${uploaded.status}`);

    // The reference: the same answers from memory, shaped per request as the gateway does.
    const reference = Fastify();
    reference.get('/:imgID', async () => ({ imageBlob: original.toString('base64'), author: 'benchartist', title: 'bench', description: 'an image for the benchmark', error: '' }));
    reference.get('/:imgID/raw', async (_request, reply) =>
      reply.header('content-type', 'image/jpeg').header('etag', '"x"').header('cache-control', 'public, max-age=31536000, immutable').send(original));
    const referenceUrl = await reference.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => reference.close());

    const info: ServeInfo = { gateway: gatewayUrl, reference: referenceUrl, imageId: imageID, bytes: original.length };
    process.stdout.write(`${JSON.stringify(info)}\n`);
  } catch (error) {
    console.error(error);
    await stopAll();
  }
}

/** Requests per second of GET `path` with `concurrency` requests in flight for `ms`. */
async function load(origin: string, path: string, ms: number): Promise<{ perSecond: number; errors: number }> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  let done = 0;
  let errors = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      try {
        const response = await pool.request({ method: 'GET', path, headersTimeout: 5_000, bodyTimeout: 5_000 });
        await response.body.arrayBuffer();
        if (response.statusCode === 200) done++;
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = performance.now() - started;
  await pool.close();
  return { perSecond: (done * 1000) / elapsed, errors };
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', ...process.argv.slice(2)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const deadline = setTimeout(() => {
    console.error('benchmark deadline passed; stopping');
    child.stdin.end();
    process.exit(1);
  }, 120_000 + rounds * 4 * (durationMs + warmupMs));
  try {
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
    });
    const info = JSON.parse(firstLine) as ServeInfo;
    console.log(`image: ${info.bytes} bytes JPEG; concurrency ${concurrency}; ${rounds} rounds of ${durationMs} ms per case`);

    const cases = [
      { name: 'GET /{imgID}', gateway: `/${info.imageId}`, reference: `/${info.imageId}` },
      { name: 'GET /{imgID}/raw', gateway: `/${info.imageId}/raw`, reference: `/${info.imageId}/raw` },
    ];
    for (const item of cases) {
      await load(info.gateway, item.gateway, warmupMs);
      await load(info.reference, item.reference, warmupMs);
    }
    const results = new Map<string, { gateway: number[]; reference: number[]; errors: number }>();
    // Interleaved rounds so machine noise hits both sides alike.
    for (let round = 0; round < rounds; round++) {
      for (const item of cases) {
        const entry = results.get(item.name) ?? { gateway: [], reference: [], errors: 0 };
        const gateway = await load(info.gateway, item.gateway, durationMs);
        const reference = await load(info.reference, item.reference, durationMs);
        entry.gateway.push(gateway.perSecond);
        entry.reference.push(reference.perSecond);
        entry.errors += gateway.errors + reference.errors;
        results.set(item.name, entry);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const summary: Record<string, { gatewayPerSecond: number; barePerSecond: number; ratio: number; errors: number }> = {};
    console.log(`${'case'.padEnd(18)} ${'gateway req/s'.padStart(14)} ${'bare req/s'.padStart(12)} ${'ratio'.padStart(7)} errors`);
    for (const [name, entry] of results) {
      const gateway = median(entry.gateway);
      const reference = median(entry.reference);
      summary[name] = { gatewayPerSecond: gateway, barePerSecond: reference, ratio: gateway / reference, errors: entry.errors };
      console.log(`${name.padEnd(18)} ${gateway.toFixed(0).padStart(14)} ${reference.toFixed(0).padStart(12)} ${(gateway / reference).toFixed(2).padStart(7)} ${entry.errors}`);
    }
    // The machine's load matters on a shared 2-core box: recorded beside the numbers.
    const resultsDir = join(repoRoot(), 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'images.json'), JSON.stringify({
      settings: { durationMs, rounds, concurrency, imageBytes: info.bytes }, cases: summary, loadAverage: loadavg(), at: new Date().toISOString(),
    }, null, 2));
  } finally {
    clearTimeout(deadline);
    child.stdin.end();
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
