import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import postgres from 'postgres';
import { integrationPostgres } from '../../harness/context.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { createRpcClient, type RpcClient, type RpcTransport } from '../../../src/platform/rpc/client.js';
import { recommendationsContract, type RecommendationsContract } from '../../../src/contracts/recommendations.js';
import { recommendationsConfigSchema } from '../../../src/recommendations/config.js';
import { buildRecommendationsApp } from '../../../src/recommendations/app.js';
import { daysToMs } from '../../../src/recommendations/interests.js';
import { systemClock } from '../../../src/platform/clock.js';
import { testClusterSecret, trustedTestTransport } from '../../support/credentials.js';

// The service over HTTP RPC against a real PostgreSQL, with a clock the test moves.

let app: FastifyInstance;
let transport: RpcTransport;
let rpc: RpcClient<RecommendationsContract['methods']>;
let databaseUrl: string;
let now = new Date('2026-03-01T12:00:00Z');
let sequence = 0;

beforeAll(async () => {
  databaseUrl = await integrationPostgres().createDatabase('recommendations');
  const config = recommendationsConfigSchema.parse({ CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'recommendations-test', DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  app = await buildRecommendationsApp({
    config,
    logger: createLogger({ name: 'recommendations-test', level: 'silent' }),
    metrics: createMetricsRegistry('recommendations-test', { defaults: false }),
    clock: { ...systemClock, now: () => now.getTime() },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  transport = trustedTestTransport(`http://127.0.0.1:${address.port}`);
  rpc = createRpcClient(recommendationsContract, transport);
});

afterAll(async () => {
  await transport?.close?.();
  await app?.close();
});

/** Indexes a new image, each one a second newer than the last. */
async function upload(authorId: string, tags: string[], name = 'img'): Promise<string> {
  sequence += 1;
  const imageId = `${name}-${sequence}`;
  const createdAt = new Date(now.getTime() - daysToMs(1) + sequence * 1000).toISOString();
  await rpc.IndexImage({ imageId, authorId, tags, createdAt });
  return imageId;
}

async function tagCount(tag: string): Promise<number> {
  const { tags } = await rpc.ListTags({ prefix: tag, limit: 200 });
  return tags.find((t) => t.tag === tag)?.count ?? 0;
}

describe('likes', () => {
  it('counts a repeated like once and answers an unlike of nothing harmlessly', async () => {
    const image = await upload('likes-author', ['still-life']);
    expect(await rpc.Like({ imageId: image, userId: 'liker-1' })).toEqual({ liked: true, likes: 1 });
    expect(await rpc.Like({ imageId: image, userId: 'liker-1' })).toEqual({ liked: true, likes: 1 });
    expect(await rpc.Like({ imageId: image, userId: 'liker-2' })).toEqual({ liked: true, likes: 2 });
    expect((await rpc.LikeCounts({ imageIds: [image] })).counts).toEqual({ [image]: 2 });

    expect(await rpc.Unlike({ imageId: image, userId: 'never-liked' })).toEqual({ liked: false, likes: 2 });
    expect(await rpc.Unlike({ imageId: image, userId: 'liker-1' })).toEqual({ liked: false, likes: 1 });
    expect(await rpc.Unlike({ imageId: image, userId: 'liker-1' })).toEqual({ liked: false, likes: 1 });
    expect((await rpc.LikeCounts({ imageIds: [image, 'no-such-image'] })).counts).toEqual({ [image]: 1 });
  });

  it('keeps an exact count under concurrent likes, repeated ones included', async () => {
    const image = await upload('likes-author', ['crowded']);
    await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => rpc.Like({ imageId: image, userId: `crowd-${i}` })),
      ...Array.from({ length: 10 }, () => rpc.Like({ imageId: image, userId: 'eager-fan' })),
    ]);
    expect((await rpc.LikeCounts({ imageIds: [image] })).counts[image]).toBe(16);
    await Promise.all(Array.from({ length: 10 }, () => rpc.Unlike({ imageId: image, userId: 'eager-fan' })));
    expect((await rpc.LikeCounts({ imageIds: [image] })).counts[image]).toBe(15);
  });

  it('refuses to like an unknown image with NOT_FOUND', async () => {
    await expect(rpc.Like({ imageId: 'no-such-image', userId: 'liker-1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(rpc.Unlike({ imageId: 'no-such-image', userId: 'liker-1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('tags', () => {
  it('counts each image once even when indexing is repeated, most used first, with prefix search', async () => {
    const image = await upload('tags-author', ['Pastel', 'pastel', 'chalk']);
    await rpc.IndexImage({ imageId: image, authorId: 'tags-author', tags: ['pastel', 'chalk'], createdAt: now.toISOString() });
    await upload('tags-author', ['pastel']);
    expect(await tagCount('pastel')).toBe(2);
    expect(await tagCount('chalk')).toBe(1);

    const { tags } = await rpc.ListTags({ prefix: 'PAS' });
    expect(tags).toEqual([{ tag: 'pastel', count: 2 }]);
    const all = (await rpc.ListTags({ limit: 200 })).tags;
    expect(all.findIndex((t) => t.tag === 'pastel')).toBeLessThan(all.findIndex((t) => t.tag === 'chalk'));
    // LIKE wildcards in the prefix are taken literally.
    expect((await rpc.ListTags({ prefix: '%' })).tags).toEqual([]);
  });
});

describe('recommendations', () => {
  it('gives a watercolor fan unseen watercolor images first, never their own or liked ones', async () => {
    const fan = 'fan-watercolor';
    const watercolors: string[] = [];
    for (let i = 0; i < 12; i++) watercolors.push(await upload(`painter-${i % 3}`, ['watercolor', i % 2 ? 'landscape' : 'portrait'], 'wc'));
    const oils: string[] = [];
    for (let i = 0; i < 12; i++) oils.push(await upload('oil-painter', ['oil'], 'oil'));
    for (const oil of oils.slice(0, 4)) {
      await rpc.Like({ imageId: oil, userId: 'someone-else' });
      await rpc.Like({ imageId: oil, userId: 'another-one' });
    }
    const own = await upload(fan, ['watercolor'], 'own');
    const liked = watercolors.slice(0, 3);
    for (const imageId of liked) await rpc.Like({ imageId, userId: fan });
    // The best match (watercolor and portrait, newest): once seen it must give way to unseen ones.
    const viewed = watercolors[10]!;
    await rpc.RecordView({ imageId: viewed, userId: fan });

    const { imageIds } = await rpc.Recommend({ userId: fan, limit: 10 });
    expect(imageIds).toHaveLength(10);
    expect(imageIds).not.toContain(own);
    for (const imageId of liked) expect(imageIds).not.toContain(imageId);
    const unseen = watercolors.filter((id) => !liked.includes(id) && id !== viewed);
    // The first places (the interest share) are unseen watercolors; popular and newest ones follow.
    expect(imageIds.slice(0, 6).every((id) => unseen.includes(id))).toBe(true);
    expect(imageIds.some((id) => oils.includes(id))).toBe(true);
  });

  it('gives a new or anonymous user popular and newest images', async () => {
    const popular = await upload('popular-artist', ['sculpture'], 'popular');
    for (let i = 0; i < 5; i++) await rpc.Like({ imageId: popular, userId: `admirer-${i}` });
    for (let i = 0; i < 5; i++) await upload('busy-artist', ['sketch'], 'filler');
    const newest = await upload('brand-new-artist', ['sketch'], 'newest');

    for (const userId of ['newcomer', undefined]) {
      const { imageIds } = await rpc.Recommend({ userId, limit: 4 });
      expect(imageIds).toHaveLength(4);
      expect(imageIds).toContain(popular);
      expect(imageIds).toContain(newest);
    }
  });

  it('shows a brand-new image of a new artist to users whose interests match', async () => {
    const fan = 'fan-gouache';
    const older: string[] = [];
    for (let i = 0; i < 10; i++) older.push(await upload('gouache-veteran', ['gouache'], 'gouache'));
    await rpc.Like({ imageId: older[0]!, userId: fan });
    const debut = await upload('debut-artist', ['gouache'], 'debut');
    // Newer uploads in other tags, so that the debut is not merely the newest image overall.
    for (let i = 0; i < 5; i++) await upload('other-artist', ['collage'], 'collage');

    const { imageIds } = await rpc.Recommend({ userId: fan, limit: 5 });
    expect(imageIds).toContain(debut);
    const stranger = await rpc.Recommend({ userId: 'fan-of-nothing', limit: 3 });
    expect(stranger.imageIds).not.toContain(debut);
  });

  it('forgets an old interest in favour of a recent one', async () => {
    const fan = 'fan-decay';
    const charcoalLiked = await upload('charcoal-artist', ['charcoal'], 'charcoal');
    const inkLiked = await upload('ink-artist', ['ink'], 'ink');
    const inkCandidate = await upload('ink-artist', ['ink'], 'ink');
    // Newer, so without decay it would win the tie between equal interests.
    const charcoalCandidate = await upload('charcoal-artist', ['charcoal'], 'charcoal');
    const start = now;
    try {
      await rpc.Like({ imageId: charcoalLiked, userId: fan });
      now = new Date(start.getTime() + daysToMs(42));
      await rpc.Like({ imageId: inkLiked, userId: fan });
      const { imageIds } = await rpc.Recommend({ userId: fan, limit: 10 });
      expect(imageIds.indexOf(inkCandidate)).toBeGreaterThanOrEqual(0);
      expect(imageIds.indexOf(inkCandidate)).toBeLessThan(imageIds.indexOf(charcoalCandidate));

      // The stored weight follows the same decay as interests.ts: a like (3) halves in 14 days, then another like adds 3.
      now = new Date(start.getTime() + daysToMs(56));
      const again = await upload('ink-artist', ['ink'], 'ink');
      await rpc.Like({ imageId: again, userId: fan });
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
      try {
        const [row] = await sql<{ weight: number }[]>`select weight from user_interests where user_id = ${fan} and tag = 'ink'`;
        expect(row!.weight).toBeCloseTo(4.5, 6);
      } finally {
        await sql.end();
      }
    } finally {
      now = start;
    }
  });

  it('stops recommending a deleted image and drops it from the tag counts', async () => {
    const fan = 'fan-mosaic';
    const mosaics: string[] = [];
    for (let i = 0; i < 3; i++) mosaics.push(await upload('mosaic-artist', ['mosaic'], 'mosaic'));
    await rpc.Like({ imageId: mosaics[0]!, userId: fan });
    await rpc.Like({ imageId: mosaics[2]!, userId: 'other-fan' });
    const doomed = mosaics[2]!;
    expect((await rpc.Recommend({ userId: fan, limit: 5 })).imageIds).toContain(doomed);
    expect(await tagCount('mosaic')).toBe(3);

    await rpc.UnindexImage({ imageId: doomed });
    await rpc.UnindexImage({ imageId: doomed });
    expect(await tagCount('mosaic')).toBe(2);
    for (const userId of [fan, 'other-fan', undefined]) {
      expect((await rpc.Recommend({ userId, limit: 100 })).imageIds).not.toContain(doomed);
    }
    expect((await rpc.LikeCounts({ imageIds: [doomed] })).counts).toEqual({});
    await expect(rpc.Like({ imageId: doomed, userId: fan })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    await rpc.UnindexImage({ imageId: mosaics[0]! });
    await rpc.UnindexImage({ imageId: mosaics[1]! });
    expect((await rpc.ListTags({ prefix: 'mosaic' })).tags).toEqual([]);
  });
});
