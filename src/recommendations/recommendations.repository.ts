import type { Sql, TransactionSql } from '../platform/db/database.js';
import type { StoredInterest } from './interests.js';
import { commitPrepared, prepareTransaction, rollbackPrepared, type PrepareOptions } from '../platform/db/two-phase.js';

// All SQL of the recommendations service. Callers pass "now" (from an injected clock) so that
// decay and recency are testable.

export interface IndexedImage {
  imageId: string;
  authorId: string;
  /** Normalised and sorted (see indexTags in handlers.ts). */
  tags: string[];
  createdAt: Date;
}

export interface InterestChange {
  userId: string;
  tags: readonly string[];
  /** Added to every tag's decayed weight; negative to take interest back (floored at zero). */
  delta: number;
  now: Date;
}

export interface LikeState {
  liked: boolean;
  likes: number;
  /** Whether this call changed anything (false for a repeated like or an unlike of nothing). */
  changed: boolean;
  tags: string[];
}

export interface TagCount {
  tag: string;
  count: number;
}

export interface RecommendationsRepository {
  /** True when the image was new; a repeated call changes nothing. */
  indexImage(image: IndexedImage, authorInterest: number, now: Date): Promise<boolean>;
  /** Replaces the image's tags (counts follow); false when the image is unknown. */
  retagImage(imageId: string, tags: readonly string[]): Promise<boolean>;
  /** True when the image existed. The id is closed for good: a later indexImage of it does nothing. */
  unindexImage(imageId: string): Promise<boolean>;
  /** indexImage and unindexImage in a transaction prepared as `txId` (two-phase commit), by `options.deadline` or not at all. */
  prepareIndexImage(txId: string, image: IndexedImage, authorInterest: number, now: Date, options?: PrepareOptions): Promise<void>;
  prepareUnindexImage(txId: string, imageId: string, options?: PrepareOptions): Promise<void>;
  commitPrepared(txId: string): Promise<boolean>;
  rollbackPrepared(txId: string): Promise<boolean>;
  /** Counts the view; for a signed-in viewer adds `interest` unless they viewed it since `cooldownStart`. */
  recordView(view: { imageId: string; userId: string | undefined; now: Date; interest: number; cooldownStart: Date }): Promise<void>;
  /**
   * Counts a batch of views in one transaction: each image's count grows by the sum of its
   * entries; each signed-in viewer adds `interest` per image unless they viewed it since
   * `cooldownStart`. Unknown images are skipped. Rows are locked in one sorted order (images,
   * then views, then interests) so that concurrent batches cannot deadlock each other.
   */
  recordViews(batch: { views: ReadonlyArray<{ imageId: string; userId?: string | undefined; count: number }>; now: Date; interest: number; cooldownStart: Date }): Promise<void>;
  /** undefined when the image is unknown. */
  like(imageId: string, userId: string, now: Date, interest: number): Promise<LikeState | undefined>;
  unlike(imageId: string, userId: string, now: Date, interest: number): Promise<LikeState | undefined>;
  likeCounts(imageIds: readonly string[]): Promise<Map<string, number>>;
  /** undefined when the image is unknown. */
  likeState(imageId: string, userId: string): Promise<{ liked: boolean; likes: number } | undefined>;
  listTags(prefix: string, limit: number): Promise<TagCount[]>;
  storedInterests(userId: string, maxRows: number): Promise<StoredInterest[]>;
  /** Images with the given tags scored by the sum of their matching tags' weights; unseen first. Never the user's own or liked ones. */
  interestCandidates(query: { userId: string; interests: ReadonlyArray<{ tag: string; weight: number }>; perTag: number; limit: number }): Promise<string[]>;
  /**
   * Most liked images (recent ones counting more) and newest images, best first; without the
   * user's own or liked ones when a user is given.
   */
  generalCandidates(query: { userId: string | undefined; now: Date; pool: number; limit: number }): Promise<{ popular: string[]; newest: string[] }>;
}

/** `settings.phaseTwo`: the pool for COMMIT / ROLLBACK PREPARED (two-phase.ts phaseTwoDatabase); `sql` when not given. */
export function createRecommendationsRepository(sql: Sql, settings: { halfLifeMs: number; phaseTwo?: Sql }): RecommendationsRepository {
  const halfLifeMs = settings.halfLifeMs;
  const phaseTwo = settings.phaseTwo ?? sql;

  /** Same formula as addInterest in interests.ts, done atomically in the upsert. */
  async function changeInterest(tx: TransactionSql | Sql, change: InterestChange): Promise<void> {
    if (change.tags.length === 0 || change.delta === 0) return;
    // Sorted tags: concurrent upserts lock rows in the same order (no deadlocks).
    const tags = [...change.tags].sort();
    await tx`
      insert into user_interests (user_id, tag, weight, updated_at)
      select ${change.userId}::text, tag, ${Math.max(0, change.delta)}::float8, ${change.now}::timestamptz
      from unnest(${tags}::text[]) as tag
      on conflict (user_id, tag) do update set
        weight = greatest(0::float8, user_interests.weight
                   * power(0.5::float8, greatest(0, extract(epoch from (excluded.updated_at - user_interests.updated_at)))::float8 * 1000 / ${halfLifeMs}::float8)
                   + ${change.delta}::float8),
        updated_at = greatest(user_interests.updated_at, excluded.updated_at)`;
  }

  async function imageTags(tx: TransactionSql, imageId: string): Promise<string[]> {
    const rows = await tx<{ tag: string }[]>`select tag from image_tags where image_id = ${imageId} order by tag`;
    return rows.map((row) => row.tag);
  }

  async function indexIn(tx: TransactionSql, image: IndexedImage, authorInterest: number, now: Date): Promise<boolean> {
    const closed = await tx`select 1 from unindexed_images where image_id = ${image.imageId}`;
    if (closed.length > 0) return false;
    const inserted = await tx`
      insert into images (image_id, author_id, created_at) values (${image.imageId}, ${image.authorId}, ${image.createdAt}::timestamptz)
      on conflict (image_id) do nothing returning image_id`;
    if (inserted.length === 0) return false;
    if (image.tags.length > 0) {
      await tx`
        insert into image_tags (image_id, tag, author_id, created_at)
        select ${image.imageId}::text, tag, ${image.authorId}::text, ${image.createdAt}::timestamptz from unnest(${image.tags}::text[]) as tag`;
      await tx`
        insert into tag_counts (tag, count) select tag, 1 from unnest(${[...image.tags].sort()}::text[]) as tag
        on conflict (tag) do update set count = tag_counts.count + 1`;
      await changeInterest(tx, { userId: image.authorId, tags: image.tags, delta: authorInterest, now });
    }
    return true;
  }

  async function unindexIn(tx: TransactionSql, imageId: string): Promise<boolean> {
    const tags = await imageTags(tx, imageId);
    const deleted = await tx`delete from images where image_id = ${imageId} returning image_id`;
    if (tags.length > 0) {
      await tx`update tag_counts set count = count - 1 where tag = any(${tags}::text[])`;
      await tx`delete from tag_counts where tag = any(${tags}::text[]) and count <= 0`;
    }
    await tx`insert into unindexed_images (image_id) values (${imageId}) on conflict do nothing`;
    return deleted.length > 0;
  }

  return {
    async indexImage(image, authorInterest, now) {
      return sql.begin((tx) => indexIn(tx, image, authorInterest, now));
    },

    prepareIndexImage: (txId, image, authorInterest, now, options) => prepareTransaction(sql, 'recommendations', txId, async (tx) => {
      await indexIn(tx, image, authorInterest, now);
    }, options),
    prepareUnindexImage: (txId, imageId, options) => prepareTransaction(sql, 'recommendations', txId, async (tx) => {
      await unindexIn(tx, imageId);
    }, options),
    commitPrepared: (txId) => commitPrepared(phaseTwo, 'recommendations', txId),
    rollbackPrepared: (txId) => rollbackPrepared(phaseTwo, 'recommendations', txId),

    async retagImage(imageId, tags) {
      return sql.begin(async (tx) => {
        const [image] = await tx<{ author_id: string; created_at: Date }[]>`
          select author_id, created_at from images where image_id = ${imageId} for update`;
        if (!image) return false;
        const old = await imageTags(tx, imageId);
        const added = [...new Set(tags)].filter((tag) => !old.includes(tag)).sort();
        const removed = old.filter((tag) => !tags.includes(tag));
        if (removed.length > 0) {
          await tx`delete from image_tags where image_id = ${imageId} and tag = any(${removed}::text[])`;
          await tx`update tag_counts set count = count - 1 where tag = any(${removed}::text[])`;
          await tx`delete from tag_counts where tag = any(${removed}::text[]) and count <= 0`;
        }
        if (added.length > 0) {
          await tx`
            insert into image_tags (image_id, tag, author_id, created_at)
            select ${imageId}::text, tag, ${image.author_id}::text, ${image.created_at}::timestamptz from unnest(${added}::text[]) as tag`;
          await tx`
            insert into tag_counts (tag, count) select tag, 1 from unnest(${added}::text[]) as tag
            on conflict (tag) do update set count = tag_counts.count + 1`;
        }
        return true;
      });
    },

    async unindexImage(imageId) {
      return sql.begin((tx) => unindexIn(tx, imageId));
    },

    async recordView(view) {
      await sql.begin(async (tx) => {
        const counted = await tx`update images set views = views + 1 where image_id = ${view.imageId} returning image_id`;
        if (counted.length === 0 || view.userId === undefined) return;
        // xmax = 0 tells an insert from an update; the old timestamp decides the cooldown.
        const [row] = await tx<{ previous: Date | null }[]>`
          with previous as (select last_viewed_at from views where user_id = ${view.userId} and image_id = ${view.imageId})
          insert into views (user_id, image_id, count, last_viewed_at) values (${view.userId}, ${view.imageId}, 1, ${view.now}::timestamptz)
          on conflict (user_id, image_id) do update set count = views.count + 1, last_viewed_at = greatest(views.last_viewed_at, excluded.last_viewed_at)
          returning (select last_viewed_at from previous) as previous`;
        if (row?.previous && row.previous > view.cooldownStart) return;
        await changeInterest(tx, { userId: view.userId, tags: await imageTags(tx, view.imageId), delta: view.interest, now: view.now });
      });
    },

    async recordViews(batch) {
      const perImage = new Map<string, number>();
      for (const view of batch.views) perImage.set(view.imageId, (perImage.get(view.imageId) ?? 0) + view.count);
      if (perImage.size === 0) return;
      const imageIds = [...perImage.keys()].sort();
      await sql.begin(async (tx) => {
        const known = new Set((await tx<{ image_id: string }[]>`
          select image_id from images where image_id = any(${imageIds}::text[]) order by image_id for update`).map((row) => row.image_id));
        if (known.size === 0) return;
        const counted = imageIds.filter((id) => known.has(id));
        await tx`
          update images set views = images.views + batch.count
          from unnest(${counted}::text[], ${counted.map((id) => perImage.get(id)!)}::bigint[]) as batch(image_id, count)
          where images.image_id = batch.image_id`;
        // Per viewer and image, in (viewer, image) order; interest is gathered per viewer and tag.
        const byViewer = new Map<string, number>();
        for (const view of batch.views) {
          if (view.userId === undefined || !known.has(view.imageId)) continue;
          const key = `${view.userId}\u0000${view.imageId}`;
          byViewer.set(key, (byViewer.get(key) ?? 0) + view.count);
        }
        const interestByViewer = new Map<string, Map<string, number>>();
        for (const key of [...byViewer.keys()].sort()) {
          const [userId, imageId] = key.split('\u0000') as [string, string];
          const [row] = await tx<{ previous: Date | null }[]>`
            with previous as (select last_viewed_at from views where user_id = ${userId} and image_id = ${imageId})
            insert into views (user_id, image_id, count, last_viewed_at) values (${userId}, ${imageId}, ${byViewer.get(key)!}, ${batch.now}::timestamptz)
            on conflict (user_id, image_id) do update set count = views.count + excluded.count, last_viewed_at = greatest(views.last_viewed_at, excluded.last_viewed_at)
            returning (select last_viewed_at from previous) as previous`;
          if (row?.previous && row.previous > batch.cooldownStart) continue;
          const tags = interestByViewer.get(userId) ?? new Map<string, number>();
          interestByViewer.set(userId, tags);
          for (const tag of await imageTags(tx, imageId)) tags.set(tag, (tags.get(tag) ?? 0) + batch.interest);
        }
        for (const userId of [...interestByViewer.keys()].sort()) {
          const tags = [...interestByViewer.get(userId)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          if (tags.length === 0) continue;
          await tx`
            insert into user_interests (user_id, tag, weight, updated_at)
            select ${userId}::text, t.tag, t.delta, ${batch.now}::timestamptz
            from unnest(${tags.map(([tag]) => tag)}::text[], ${tags.map(([, delta]) => delta)}::float8[]) as t(tag, delta)
            on conflict (user_id, tag) do update set
              weight = user_interests.weight
                       * power(0.5::float8, greatest(0, extract(epoch from (excluded.updated_at - user_interests.updated_at)))::float8 * 1000 / ${halfLifeMs}::float8)
                       + excluded.weight,
              updated_at = greatest(user_interests.updated_at, excluded.updated_at)`;
        }
      });
    },

    async like(imageId, userId, now, interest) {
      return sql.begin(async (tx) => {
        // The insert takes a key-share lock on the image row, so a concurrent unindex waits for us.
        const inserted = await tx`
          insert into likes (image_id, user_id, created_at)
          select ${imageId}::text, ${userId}::text, ${now}::timestamptz where exists (select 1 from images where image_id = ${imageId})
          on conflict (image_id, user_id) do nothing returning image_id`;
        if (inserted.length === 0) {
          const [image] = await tx<{ likes: number }[]>`select likes from images where image_id = ${imageId}`;
          return image ? { liked: true, likes: image.likes, changed: false, tags: [] } : undefined;
        }
        const [image] = await tx<{ likes: number }[]>`update images set likes = likes + 1 where image_id = ${imageId} returning likes`;
        const tags = await imageTags(tx, imageId);
        await changeInterest(tx, { userId, tags, delta: interest, now });
        return { liked: true, likes: image!.likes, changed: true, tags };
      });
    },

    async unlike(imageId, userId, now, interest) {
      return sql.begin(async (tx) => {
        const deleted = await tx`delete from likes where image_id = ${imageId} and user_id = ${userId} returning image_id`;
        if (deleted.length === 0) {
          const [image] = await tx<{ likes: number }[]>`select likes from images where image_id = ${imageId}`;
          return image ? { liked: false, likes: image.likes, changed: false, tags: [] } : undefined;
        }
        const [image] = await tx<{ likes: number }[]>`update images set likes = greatest(0, likes - 1) where image_id = ${imageId} returning likes`;
        const tags = await imageTags(tx, imageId);
        await changeInterest(tx, { userId, tags, delta: -interest, now });
        return { liked: false, likes: image?.likes ?? 0, changed: true, tags };
      });
    },

    async likeState(imageId, userId) {
      const [row] = await sql<{ likes: number; liked: boolean }[]>`
        select likes, exists (select 1 from likes where image_id = ${imageId} and user_id = ${userId}) as liked
        from images where image_id = ${imageId}`;
      return row ? { liked: row.liked, likes: row.likes } : undefined;
    },

    async likeCounts(imageIds) {
      if (imageIds.length === 0) return new Map();
      const rows = await sql<{ image_id: string; likes: number }[]>`select image_id, likes from images where image_id = any(${[...imageIds]}::text[])`;
      return new Map(rows.map((row) => [row.image_id, row.likes]));
    },

    async listTags(prefix, limit) {
      const rows = prefix
        ? await sql<TagCount[]>`
            select tag, count from tag_counts where tag like ${escapeLike(prefix) + '%'} and count > 0
            order by count desc, tag limit ${limit}`
        : await sql<TagCount[]>`select tag, count from tag_counts where count > 0 order by count desc, tag limit ${limit}`;
      return rows.map((row) => ({ tag: row.tag, count: row.count }));
    },

    async storedInterests(userId, maxRows) {
      const rows = await sql<{ tag: string; weight: number; updated_at: Date }[]>`
        select tag, weight, updated_at from user_interests where user_id = ${userId} and weight > 0
        order by updated_at desc limit ${maxRows}`;
      return rows.map((row) => ({ tag: row.tag, weight: row.weight, updatedAt: row.updated_at }));
    },

    async interestCandidates({ userId, interests, perTag, limit }) {
      if (interests.length === 0) return [];
      // Bounded work: at most `perTag` newest eligible images per interest tag, scored by the
      // sum of the weights of the tags they match; images the user has seen sink below unseen ones.
      const rows = await sql<{ image_id: string }[]>`
        select c.image_id,
               exists (select 1 from views v where v.user_id = ${userId} and v.image_id = c.image_id) as seen,
               sum(c.weight) as score,
               max(c.created_at) as created_at
        from unnest(${interests.map((i) => i.tag)}::text[], ${interests.map((i) => i.weight)}::float8[]) as interest (tag, weight)
        cross join lateral (
          select it.image_id, it.created_at, interest.weight
          from image_tags it
          where it.tag = interest.tag
            and it.author_id <> ${userId}
            and not exists (select 1 from likes l where l.image_id = it.image_id and l.user_id = ${userId})
          order by it.created_at desc
          limit ${perTag}
        ) c
        group by c.image_id
        order by seen, score desc, created_at desc, c.image_id
        limit ${limit}`;
      return rows.map((row) => row.image_id);
    },

    async generalCandidates({ userId, now, pool, limit }) {
      // One round trip for both lists. Popular: the `pool` most liked images, re-ranked so that a
      // recent image with some likes can beat an old favourite. Newest: by upload time.
      const hot = sql`likes / power(greatest(0, extract(epoch from (${now}::timestamptz - created_at))::float8) / 86400 + 2, 1.2)`;
      const [row] = userId === undefined
        ? await sql<{ popular: string[]; newest: string[] }[]>`
            select
              (select coalesce(array_agg(image_id order by hot desc, created_at desc), '{}') from (
                 select image_id, created_at, ${hot} as hot from (
                   select image_id, likes, created_at from images where likes > 0 order by likes desc, created_at desc limit ${pool}
                 ) top order by hot desc, created_at desc limit ${limit}
               ) popular) as popular,
              (select coalesce(array_agg(image_id order by created_at desc, image_id desc), '{}') from (
                 select image_id, created_at from images order by created_at desc, image_id desc limit ${limit}
               ) newest) as newest`
        : await sql<{ popular: string[]; newest: string[] }[]>`
            select
              (select coalesce(array_agg(image_id order by hot desc, created_at desc), '{}') from (
                 select image_id, created_at, ${hot} as hot from (
                   select i.image_id, i.likes, i.created_at from images i
                   where i.likes > 0 and i.author_id <> ${userId}
                     and not exists (select 1 from likes l where l.image_id = i.image_id and l.user_id = ${userId})
                   order by i.likes desc, i.created_at desc limit ${pool}
                 ) top order by hot desc, created_at desc limit ${limit}
               ) popular) as popular,
              (select coalesce(array_agg(image_id order by created_at desc, image_id desc), '{}') from (
                 select i.image_id, i.created_at from images i
                 where i.author_id <> ${userId}
                   and not exists (select 1 from likes l where l.image_id = i.image_id and l.user_id = ${userId})
                 order by i.created_at desc, i.image_id desc limit ${limit}
               ) newest) as newest`;
      return { popular: row?.popular ?? [], newest: row?.newest ?? [] };
    },
  };
}

/** A LIKE pattern matching `text` literally (backslash is the default escape character). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
