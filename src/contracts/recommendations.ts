import { z } from 'zod';
import { defineService } from '../platform/rpc/contract.js';

// The recommendations service: tag index, likes, views, interests, recommended images.

const tagCount = z.object({ tag: z.string(), count: z.number().int() });

export const recommendationsContract = defineService('Recommendations', 'RECOMMENDATION SERVICE', {
  /** Called on upload; repeating it is harmless. `authorId` counts as the author's own interest. */
  IndexImage: {
    input: z.object({ imageId: z.string(), authorId: z.string(), tags: z.array(z.string()), createdAt: z.string() }),
    output: z.object({}),
    idempotent: true,
  },
  /** Called on delete; removes the image from tags, likes and recommendations. */
  UnindexImage: {
    input: z.object({ imageId: z.string() }),
    output: z.object({}),
    idempotent: true,
  },
  RecordView: {
    input: z.object({ imageId: z.string(), userId: z.string().optional() }),
    output: z.object({}),
    idempotent: true,
  },
  Like: {
    input: z.object({ imageId: z.string(), userId: z.string() }),
    output: z.object({ liked: z.boolean(), likes: z.number().int() }),
    idempotent: true,
  },
  Unlike: {
    input: z.object({ imageId: z.string(), userId: z.string() }),
    output: z.object({ liked: z.boolean(), likes: z.number().int() }),
    idempotent: true,
  },
  LikeCounts: {
    input: z.object({ imageIds: z.array(z.string()).max(200) }),
    output: z.object({ counts: z.record(z.string(), z.number().int()) }),
    idempotent: true,
  },
  ListTags: {
    input: z.object({ prefix: z.string().optional(), limit: z.number().int().min(1).max(200).optional() }),
    output: z.object({ tags: z.array(tagCount) }),
    idempotent: true,
  },
  /** Image ids for the user's interests; popular and newest ones for an anonymous or new user. */
  Recommend: {
    input: z.object({ userId: z.string().optional(), limit: z.number().int().min(1).max(100).optional() }),
    output: z.object({ imageIds: z.array(z.string()) }),
    idempotent: true,
  },
});

export type RecommendationsContract = typeof recommendationsContract;
