import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidArgument } from '../../platform/errors.js';
import type { ImageInfo } from '../../contracts/images.js';
import type { GatewayDeps } from '../deps.js';
import { getAuthCheck } from '../auth-check.js';

// GET /tags, GET /recommendations, POST and DELETE /{imgID}/like. Registered before the images
// routes; the fixed paths win over /:imgID in Fastify's router either way.

const tagsQuery = z.object({
  prefix: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const recommendationsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const imageParams = z.object({ imgID: z.string().min(1).max(200) });

/** An image in a listing, in the same public shape as GET /{imgID}/info and GET /images. */
export interface ListedImage {
  imageID: string;
  author: string;
  title: string;
  description: string;
  size: number;
  type: string;
  width: number;
  height: number;
  tags: string[];
  likes: number;
  created: string;
}

/** Like counts are decoration: when they cannot be had the list still shows, with 0. */
const likeCountsTimeoutMs = 1_000;

export async function recommendationsRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const auth = getAuthCheck(deps);

  app.get('/tags', async (request) => {
    const query = parse(tagsQuery, request.query, 'query');
    const { tags } = await deps.recommendations.ListTags(
      { ...(query.prefix ? { prefix: query.prefix } : {}), ...(query.limit ? { limit: query.limit } : {}) },
      { requestId: request.id },
    );
    return { tags, error: '' };
  });

  app.get('/recommendations', async (request) => {
    const query = parse(recommendationsQuery, request.query, 'query');
    const caller = await auth.optional(request);
    const { imageIds } = await deps.recommendations.Recommend(
      { ...(caller ? { userId: caller.userId } : {}), ...(query.limit ? { limit: query.limit } : {}) },
      { requestId: request.id },
    );
    return { images: await describeImages(deps, imageIds, request), error: '' };
  });

  app.post('/:imgID/like', async (request) => {
    const caller = await auth.require(request);
    const { imgID } = parse(imageParams, request.params, 'path');
    const result = await deps.recommendations.Like({ imageId: imgID, userId: caller.userId }, { requestId: request.id });
    await afterLikeChanged(deps, imgID);
    return { message: 'success', liked: result.liked, likes: result.likes, error: '' };
  });

  app.delete('/:imgID/like', async (request) => {
    const caller = await auth.require(request);
    const { imgID } = parse(imageParams, request.params, 'path');
    // Unliking an image that was not liked is not an error: the answer says liked: false.
    const result = await deps.recommendations.Unlike({ imageId: imgID, userId: caller.userId }, { requestId: request.id });
    await afterLikeChanged(deps, imgID);
    return { message: 'success', liked: result.liked, likes: result.likes, error: '' };
  });
}

/**
 * Runs after a like or unlike changed (or may have changed) an image's like count.
 * The place for issue 8 to invalidate cached copies that show the count (e.g. GET /{imgID}/info).
 */
async function afterLikeChanged(_deps: GatewayDeps, _imageId: string): Promise<void> {}

/** Metadata and like counts for `imageIds`, in the same order; images deleted in the meantime are left out. */
async function describeImages(deps: GatewayDeps, imageIds: readonly string[], request: FastifyRequest): Promise<ListedImage[]> {
  if (imageIds.length === 0) return [];
  const [{ images }, counts] = await Promise.all([
    deps.images.GetInfos({ imageIds: [...imageIds] }, { requestId: request.id }),
    deps.recommendations.LikeCounts({ imageIds: [...imageIds] }, { requestId: request.id, timeoutMs: likeCountsTimeoutMs }).then(
      (answer) => answer.counts,
      (error: unknown) => {
        request.log.warn({ err: error }, 'like counts unavailable; listing without them');
        return {} as Record<string, number>;
      },
    ),
  ]);
  const infoById = new Map(images.map((info) => [info.imageId, info]));
  return imageIds.flatMap((imageId) => {
    const info = infoById.get(imageId);
    return info ? [listedImage(info, counts[imageId] ?? 0)] : [];
  });
}

function listedImage(info: ImageInfo, likes: number): ListedImage {
  return {
    imageID: info.imageId,
    author: info.author,
    title: info.title,
    description: info.description,
    size: info.size,
    type: info.type,
    width: info.width,
    height: info.height,
    tags: info.tags,
    likes,
    created: info.created,
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw invalidArgument(`${where} ${first?.path.join('.') || 'value'}: ${first?.message ?? 'invalid'}`);
}
