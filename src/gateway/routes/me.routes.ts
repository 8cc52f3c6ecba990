import type { FastifyPluginAsync } from 'fastify';
import { getAuthCheck } from '../auth-check.js';
import type { GatewayDeps } from '../deps.js';

// GET /me: who the signed-in caller is, how many images they have and their upload quota; the
// web app's account state and quota meter.

export interface MeAnswer {
  name: string;
  imageCount: number;
  quota: { used: number; limit: number };
  error: '';
}

export const meRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const auth = getAuthCheck(deps);

  app.get('/me', async (request, reply): Promise<MeAnswer> => {
    const caller = await auth.require(request);
    const [quota, { count }] = await Promise.all([
      deps.users.GetQuota({ userId: caller.userId }, { requestId: request.id }),
      deps.images.CountByAuthor({ authorName: caller.name }, { requestId: request.id }),
    ]);
    // Personal: never kept by a shared cache.
    reply.header('cache-control', 'private, no-store');
    return { name: caller.name, imageCount: count, quota: { used: quota.used, limit: quota.limit }, error: '' };
  });
};
