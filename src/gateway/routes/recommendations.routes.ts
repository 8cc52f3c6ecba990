import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { limits } from '../../contracts/limits.js';
import type { GatewayDeps } from '../deps.js';
import { likeCounts, publicImage, type PublicImage } from '../public-image.js';
import { failures, imageNotFoundOnBadId, imageParams, optionalBody, publicImage as publicImageSchema, tokenField } from '../schemas.js';

// GET /tags, GET /recommendations, GET, POST and DELETE /{imgID}/like.

const likeBody = optionalBody({ accessToken: Type.Optional(tokenField) });
const likeAnswer = Type.Object({ message: Type.Literal('success'), liked: Type.Boolean(), likes: Type.Integer(), error: Type.Literal('') });
const likeFailures = failures('failure', { 401: 'no valid access token', 404: 'no such image' });

export const recommendationsRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.get('/tags', {
    schema: {
      summary: 'Tags with how many images carry them, most used first; `prefix` for autocomplete',
      tags: ['recommendations'],
      querystring: Type.Object({
        prefix: Type.Optional(Type.String({ maxLength: limits.tagPrefixLength })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.page.tags })),
      }),
      response: {
        200: Type.Object({ tags: Type.Array(Type.Object({ tag: Type.String(), count: Type.Integer() })), error: Type.Literal('') }),
        ...failures('failure', { 400: 'a prefix too long or a limit out of range' }),
      },
    },
  }, async (request) => {
    const { prefix, limit } = request.query;
    const { tags } = await deps.recommendations.ListTags({ ...(prefix ? { prefix } : {}), ...(limit ? { limit } : {}) }, { requestId: request.id });
    return { tags, error: '' as const };
  });

  app.get('/recommendations', {
    schema: {
      summary: 'Images for the caller\'s interests; popular and new ones for anonymous callers',
      tags: ['recommendations'],
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.page.recommendations })) }),
      response: {
        200: Type.Object({ images: Type.Array(publicImageSchema), error: Type.Literal('') }),
        ...failures('failure', { 400: 'a limit out of range' }),
      },
    },
  }, async (request) => {
    const caller = await request.callerIfAny();
    const { limit } = request.query;
    const { imageIds } = await deps.recommendations.Recommend(
      { ...(caller ? { userId: caller.userId } : {}), ...(limit ? { limit } : {}) },
      { requestId: request.id, ...(caller ? { actingUser: caller } : {}) },
    );
    return { images: await describeImages(deps, imageIds, request), error: '' as const };
  });

  app.get('/:imgID/like', {
    schema: {
      summary: 'Whether the caller likes the image, and its like count (the like button\'s state)',
      tags: ['recommendations'],
      params: imageParams,
      response: { 200: Type.Object({ liked: Type.Boolean(), likes: Type.Integer(), error: Type.Literal('') }), ...likeFailures },
    },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request, reply) => {
    const caller = await request.caller();
    const state = await deps.recommendations.LikeState({ imageId: request.params.imgID, userId: caller.userId }, { requestId: request.id, actingUser: caller });
    reply.header('cache-control', 'private, no-store');
    return { liked: state.liked, likes: state.likes, error: '' as const };
  });

  app.post('/:imgID/like', {
    schema: { summary: 'Like an image (twice counts once)', tags: ['recommendations'], params: imageParams, body: likeBody, response: { 200: likeAnswer, ...likeFailures } },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request) => {
    const caller = await request.caller();
    const result = await deps.recommendations.Like({ imageId: request.params.imgID, userId: caller.userId }, { requestId: request.id, actingUser: caller });
    return { message: 'success' as const, liked: result.liked, likes: result.likes, error: '' as const };
  });

  app.delete('/:imgID/like', {
    schema: { summary: 'Take a like back', tags: ['recommendations'], params: imageParams, body: likeBody, response: { 200: likeAnswer, ...likeFailures } },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request) => {
    const caller = await request.caller();
    // Unliking an image that was not liked is not an error: the answer says liked: false.
    const result = await deps.recommendations.Unlike({ imageId: request.params.imgID, userId: caller.userId }, { requestId: request.id, actingUser: caller });
    return { message: 'success' as const, liked: result.liked, likes: result.likes, error: '' as const };
  });
};

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
