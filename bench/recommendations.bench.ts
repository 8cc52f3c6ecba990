import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { startPostgres } from '../test/harness/postgres.js';
import { repoRoot } from '../src/launcher/paths.js';
import { createLogger } from '../src/platform/log.js';
import { createMetricsRegistry } from '../src/platform/metrics.js';
import { loadConfig } from '../src/platform/config.js';
import { createRpcClient, fixedTransport } from '../src/platform/rpc/client.js';
import { recommendationsContract } from '../src/contracts/recommendations.js';
import { recommendationsConfigSchema } from '../src/recommendations/config.js';
import { buildRecommendationsApp } from '../src/recommendations/app.js';
import { testClusterSecret, trustedTestTransport } from '../test/support/credentials.js';

// Recommendation latency with 10,000 images and 1,000 users, over the service's real RPC path
// (HTTP keep-alive + PostgreSQL). Beside it, in the same run and interleaved call by call so that
// machine noise hits both alike, a reference through the same HTTP server and the same pool: a
// LikeCounts call for one image (a single primary-key lookup). The ratio says what the
// recommendation query itself costs over the fixed overhead of any call.
//
// Run: npm run bench:recommendations
// Bounded: a fixed number of calls and an overall deadline; starts and stops its own PostgreSQL.

export interface BenchSettings {
  images: number;
  users: number;
  tags: number;
  calls: number;
  warmup: number;
  limit: number;
  deadlineMs: number;
}

export const defaults: BenchSettings = { images: 10_000, users: 1_000, tags: 300, calls: 2_000, warmup: 200, limit: 20, deadlineMs: 120_000 };

/** One bulk SQL script: images, skewed tags, likes, views and the interest profiles they imply. */
export function seedSql(s: BenchSettings): string {
  return `
    select setseed(0.42);
    insert into images (image_id, author_id, created_at)
      select 'img-' || i, 'user-' || (i % ${s.users}), now() - (random() * interval '90 days')
      from generate_series(1, ${s.images}) as i;
    -- Three tags per image drawn with a skew (a few tags are very common, as in real life).
    insert into image_tags (image_id, tag, author_id, created_at)
      select distinct on (i.image_id, t.tag) i.image_id, t.tag, i.author_id, i.created_at
      from images i
      cross join lateral (
        select 'tag-' || floor(power(random(), 2.5) * ${s.tags})::int as tag from generate_series(1, 3) where i.image_id is not null
      ) t;
    insert into tag_counts (tag, count) select tag, count(*) from image_tags group by tag;
    -- About 20 likes per user, skewed towards some images.
    insert into likes (image_id, user_id, created_at)
      select distinct on (image_id, user_id) image_id, user_id, now() - random() * interval '30 days' from (
        select 'img-' || (1 + floor(power(random(), 1.5) * ${s.images})::int) as image_id, 'user-' || u as user_id
        from generate_series(0, ${s.users - 1}) as u, generate_series(1, 20) as n
      ) picks;
    update images i set likes = l.count from (select image_id, count(*) as count from likes group by image_id) l where l.image_id = i.image_id;
    insert into views (user_id, image_id, count, last_viewed_at)
      select distinct on (user_id, image_id) user_id, image_id, 1, now() - random() * interval '30 days' from (
        select 'user-' || u as user_id, 'img-' || (1 + floor(random() * ${s.images})::int) as image_id
        from generate_series(0, ${s.users - 1}) as u, generate_series(1, 50) as n
      ) picks;
    insert into user_interests (user_id, tag, weight, updated_at)
      select user_id, tag, sum(weight), max(at) from (
        select l.user_id, it.tag, 3.0 as weight, l.created_at as at from likes l join image_tags it on it.image_id = l.image_id
        union all
        select it.author_id, it.tag, 2.0, it.created_at from image_tags it
      ) activity group by user_id, tag;
  `;
}

function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  return sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)]!;
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { calls: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

export async function runRecommendationsBench(overrides: Partial<BenchSettings> = {}) {
  const s = { ...defaults, ...overrides };
  const started = Date.now();
  const server = await startPostgres();
  const logger = createLogger({ name: 'bench-recommendations', level: 'warn' });
  let app: Awaited<ReturnType<typeof buildRecommendationsApp>> | undefined;
  const transport = { current: undefined as ReturnType<typeof fixedTransport> | undefined };
  try {
    const databaseUrl = await server.createDatabase('bench_recommendations');
    app = await buildRecommendationsApp({
      config: loadConfig(recommendationsConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'bench-recommendations', DATABASE_URL: databaseUrl }),
      logger,
      metrics: createMetricsRegistry('bench-recommendations', { defaults: false }),
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    const seedStarted = Date.now();
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      await sql.unsafe(seedSql(s)).simple();
      // As autovacuum would have done on a live database: statistics and the visibility map (index-only scans).
      await sql`vacuum analyze`;
      const [counts] = await sql<{ images: string; tags: string; likes: string; interests: string }[]>`
        select (select count(*) from images) as images, (select count(*) from image_tags) as tags,
               (select count(*) from likes) as likes, (select count(*) from user_interests) as interests`;
      console.log(`seeded in ${Date.now() - seedStarted} ms: ${counts!.images} images, ${counts!.tags} image tags, ${counts!.likes} likes, ${counts!.interests} interest rows, ${s.users} users`);
    } finally {
      await sql.end();
    }

    transport.current = trustedTestTransport(address, { connections: 4 });
    const rpc = createRpcClient(recommendationsContract, transport.current);
    const userFor = (n: number) => (n % 10 === 9 ? undefined : `user-${(n * 7919) % s.users}`);

    for (let n = 0; n < s.warmup; n++) {
      await rpc.Recommend({ userId: userFor(n), limit: s.limit });
      await rpc.LikeCounts({ imageIds: [`img-${1 + (n % s.images)}`] });
    }

    const loadBefore = loadavg()[0]!;
    const recommend: number[] = [];
    const reference: number[] = [];
    let returned = 0;
    for (let n = 0; n < s.calls && Date.now() - started < s.deadlineMs; n++) {
      let t = performance.now();
      const { imageIds } = await rpc.Recommend({ userId: userFor(n), limit: s.limit });
      recommend.push(performance.now() - t);
      returned += imageIds.length;
      t = performance.now();
      await rpc.LikeCounts({ imageIds: [`img-${1 + ((n * 31) % s.images)}`] });
      reference.push(performance.now() - t);
    }

    const result = {
      settings: s,
      machine: { cores: availableParallelism(), loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0]! },
      recommend: summary(recommend),
      reference: summary(reference),
      averageReturned: returned / Math.max(1, recommend.length),
    };
    const ratio = (key: 'p50' | 'p99') => result.recommend[key] / result.reference[key];
    const fmt = (v: number) => v.toFixed(2).padStart(8);
    console.log('\nrecommendation latency (ms), sequential calls over RPC, 10% anonymous');
    console.log('                                  calls       p50       p90       p99       max');
    for (const [name, row] of [['Recommend (limit ' + s.limit + ')', result.recommend], ['reference: LikeCounts(1 id)', result.reference]] as const) {
      console.log(`${name.padEnd(32)} ${String(row.calls).padStart(6)}  ${fmt(row.p50)}  ${fmt(row.p90)}  ${fmt(row.p99)}  ${fmt(row.max)}`);
    }
    console.log(`ratio Recommend / reference: p50 ${ratio('p50').toFixed(2)}x, p99 ${ratio('p99').toFixed(2)}x`);
    console.log(`images per recommendation: ${result.averageReturned.toFixed(1)}`);
    console.log(`machine: ${result.machine.cores} cores, load average ${loadBefore.toFixed(1)} before, ${result.machine.loadAverageAfter.toFixed(1)} after (absolute times grow with load; the ratio much less)`);
    console.log(`target p99 < 50 ms: ${result.recommend.p99 < 50 ? 'met' : 'NOT met'} (${result.recommend.p99.toFixed(2)} ms)`);

    const resultsDir = join(repoRoot(), 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'recommendations.json'), JSON.stringify({ ...result, ratios: { p50: ratio('p50'), p99: ratio('p99') }, at: new Date().toISOString() }, null, 2));
    return result;
  } finally {
    await transport.current?.close?.();
    await app?.close();
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runRecommendationsBench().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
