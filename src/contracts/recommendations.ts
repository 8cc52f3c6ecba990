import { z } from 'zod';
import { defineService } from '../platform/rpc/contract.js';
import { limits, wireLimits } from './limits.js';
import { twoPhaseParticipant } from './transactions.js';

const id = () => z.string().max(wireLimits.id);
const tags = () => z.array(z.string().max(wireLimits.rawTag)).max(limits.image.tags);

// The recommendations service: tag index, likes, views, interests, recommended images.

/** Entries (image, viewer) in one RecordViews call; a gateway sends more in several calls. */
export const maxViewsPerBatch = 500;
/** Views of one entry in one call: far above what one window can see, low enough to keep sums exact. */
export const maxViewsPerEntry = 1_000_000;

const tagCount = z.object({ tag: z.string().max(wireLimits.rawTag), count: z.number().int() });

export const recommendationsContract = defineService('Recommendations', 'RECOMMENDATION SERVICE', {
  /** Called on upload; repeating it is harmless. `authorId` counts as the author's own interest. */
  IndexImage: {
    input: z.object({ imageId: id(), authorId: id(), tags: tags(), createdAt: z.string().max(wireLimits.shortText) }),
    output: z.object({}),
    idempotent: true,
  },
  /** Called when the author changes an image's tags: they replace the old ones. Repeating it is harmless; an unknown image is NOT_FOUND. */
  RetagImage: {
    input: z.object({ imageId: id(), tags: tags() }),
    output: z.object({}),
    idempotent: true,
  },
  /**
   * Called on delete; removes the image from tags, likes and recommendations. An unindexed image
   * id is closed for good: a late IndexImage of it (after a saga's compensation) changes nothing.
   */
  UnindexImage: {
    input: z.object({ imageId: id() }),
    output: z.object({}),
    idempotent: true,
  },
  /** Two-phase commit, prepare: IndexImage in a prepared transaction `txId`. */
  PrepareIndexImage: {
    input: z.object({ txId: z.uuid().max(36), imageId: id(), authorId: id(), tags: tags(), createdAt: z.string().max(wireLimits.shortText) }),
    output: z.object({}),
    idempotent: true,
  },
  /** Two-phase commit, prepare: UnindexImage in a prepared transaction `txId`. */
  PrepareUnindexImage: {
    input: z.object({ txId: z.uuid().max(36), imageId: id() }),
    output: z.object({}),
    idempotent: true,
  },
  ...twoPhaseParticipant,
  /** Counts a view; a signed-in viewer gains a little interest in the image's tags. Unknown images are ignored. */
  RecordView: {
    input: z.object({ imageId: id(), userId: id().optional() }),
    output: z.object({}),
    idempotent: true,
  },
  /**
   * Views counted by a gateway over a short window, sent as one call: each entry is an image (and
   * the signed-in viewer, if any) with how many times it was viewed. Like RecordView, unknown
   * images are ignored, and a viewer gains interest at most once per image and cooldown. A retried
   * call may count its views twice: views are a hint, and losing none matters more.
   */
  RecordViews: {
    input: z.object({
      views: z.array(z.object({ imageId: id(), userId: id().optional(), count: z.number().int().min(1).max(maxViewsPerEntry) })).max(maxViewsPerBatch),
    }),
    output: z.object({}),
    idempotent: true,
  },
  /** Liking twice counts once. An unknown image is NOT_FOUND. */
  Like: {
    input: z.object({ imageId: id(), userId: id() }),
    output: z.object({ liked: z.boolean(), likes: z.number().int() }),
    idempotent: true,
  },
  /** Unliking what was not liked answers {liked: false, likes} and changes nothing. An unknown image is NOT_FOUND. */
  Unlike: {
    input: z.object({ imageId: id(), userId: id() }),
    output: z.object({ liked: z.boolean(), likes: z.number().int() }),
    idempotent: true,
  },
  /** Whether `userId` likes the image, and its like count. An unknown image is NOT_FOUND. */
  LikeState: {
    input: z.object({ imageId: id(), userId: id() }),
    output: z.object({ liked: z.boolean(), likes: z.number().int() }),
    idempotent: true,
  },
  /** Unknown image ids are left out of `counts`. */
  LikeCounts: {
    input: z.object({ imageIds: z.array(id()).max(limits.page.batch) }),
    output: z.object({ counts: z.record(z.string(), z.number().int()) }),
    idempotent: true,
  },
  /** Tags with the number of images carrying them, most used first; `prefix` for autocomplete (case-insensitive). */
  ListTags: {
    input: z.object({ prefix: z.string().max(limits.tagPrefixLength).optional(), limit: z.number().int().min(1).max(limits.page.tags).optional() }),
    output: z.object({ tags: z.array(tagCount).max(limits.page.tags) }),
    idempotent: true,
  },
  /** Image ids for the user's interests; popular and newest ones for an anonymous or new user. */
  Recommend: {
    input: z.object({ userId: id().optional(), limit: z.number().int().min(1).max(limits.page.recommendations).optional() }),
    output: z.object({ imageIds: z.array(id()).max(limits.page.recommendations) }),
    idempotent: true,
  },
});

export type RecommendationsContract = typeof recommendationsContract;
