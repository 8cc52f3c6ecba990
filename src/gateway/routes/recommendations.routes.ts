import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidArgument } from '../../platform/errors.js';
import { likeCounts, publicImage, type PublicImage } from '../public-image.js';
import type { GatewayDeps } from '../deps.js';
import { getAuthCheck } from '../auth-check.js';

// GET /tags, GET /recommendations, GET, POST and DELETE /{imgID}/like. Registered before the images
// routes; the fixed paths win over /:imgID in Fastify's router either way.

const tagsQuery = z.object({
  prefix: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const recommendationsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const imageParams = z.object({ imgID: z.string().min(1).max(200) });

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

  // Whether the caller likes the image (the like button's state), with the count.
  app.get('/:imgID/like', async (request, reply) => {
    const caller = await auth.require(request);
    const { imgID } = parse(imageParams, request.params, 'path');
    const state = await deps.recommendations.LikeState({ imageId: imgID, userId: caller.userId }, { requestId: request.id });
    reply.header('cache-control', 'private, no-store');
    return { liked: state.liked, likes: state.likes, error: '' };
  });

  app.post('/:imgID/like', async (request) => {
    const caller = await auth.require(request);
    const { imgID } = parse(imageParams, request.params, 'path');
    const result = await deps.recommendations.Like({ imageId: imgID, userId: caller.userId }, { requestId: request.id });
    return { message: 'success', liked: result.liked, likes: result.likes, error: '' };
  });

  app.delete('/:imgID/like', async (request) => {
    const caller = await auth.require(request);
    const { imgID } = parse(imageParams, request.params, 'path');
    // Unliking an image that was not liked is not an error: the answer says liked: false.
    const result = await deps.recommendations.Unlike({ imageId: imgID, userId: caller.userId }, { requestId: request.id });
    return { message: 'success', liked: result.liked, likes: result.likes, error: '' };
  });
}

/** Metadata and like counts for `imageIds`, in the same order; images deleted in the meantime are left out. */
async function describeImages(deps: GatewayDeps, imageIds: readonly string[], request: FastifyRequest): Promise<PublicImage[]> {
  if (imageIds.length === 0) return [];
  const [{ images }, counts] = await Promise.all([
    deps.images.GetInfos({ imageIds: [...imageIds] }, { requestId: request.id }),
    likeCounts(deps, imageIds, request.id),
  ]);
  const infoById = new Map(images.map((info) => [info.imageId, info]));
  return imageIds.flatMap((imageId) => {
    const info = infoById.get(imageId);
    return info ? [publicImage(info, counts[imageId] ?? 0)] : [];
  });
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw invalidArgument(`${where} ${first?.path.join('.') || 'value'}: ${first?.message ?? 'invalid'}`);
}
