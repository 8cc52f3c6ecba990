import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { GatewayDeps } from '../deps.js';
import { failures } from '../schemas.js';

// GET /me: who the signed-in caller is, how many images they have and their upload quota; the
// web app's account state and quota meter.

const meAnswer = Type.Object({
  name: Type.String(),
  imageCount: Type.Integer(),
  quota: Type.Object({ used: Type.Integer(), limit: Type.Integer() }),
  error: Type.Literal(''),
});

export const meRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.get('/me', {
    schema: {
      summary: 'The signed-in caller: name, number of images, upload quota',
      tags: ['users'],
      response: { 200: meAnswer, ...failures('failure', { 401: 'no valid access token' }) },
    },
  }, async (request, reply) => {
    const caller = await request.caller();
    const [quota, { count }] = await Promise.all([
      deps.users.GetQuota({ userId: caller.userId }, { requestId: request.id, actingUser: caller }),
      deps.images.CountByAuthor({ authorName: caller.name }, { requestId: request.id }),
    ]);
    // Personal: never kept by a shared cache.
    reply.header('cache-control', 'private, no-store');
    return { name: caller.name, imageCount: count, quota: { used: quota.used, limit: quota.limit }, error: '' as const };
  });
};
