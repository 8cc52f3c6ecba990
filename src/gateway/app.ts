import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../platform/http.js';
import type { GatewayDeps } from './deps.js';
import { crossSiteCheck } from './cross-site.js';
import { withImageCache } from './image-cache.js';
import { authRoutes } from './routes/auth.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { recommendationsRoutes } from './routes/recommendations.routes.js';
import { webAppRoutes } from './web-app.js';

export type { GatewayDeps } from './deps.js';

/** Builds one gateway worker's app: the public REST API. Tests call this directly. */
export async function buildGatewayApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, metricsText: deps.metricsText, bodyLimit: 16 * 1024 * 1024 });
  // Image reads go through the cache ring; PATCH and DELETE invalidate it.
  deps = { ...deps, images: withImageCache(deps.images, deps.sharedState, { ttlSeconds: deps.config.IMAGE_CACHE_TTL_SECONDS }) };
  // Before any route: cookie-authenticated writes from other sites are refused.
  crossSiteCheck(app, deps);
  // Order matters: fixed paths (auth, tags, recommendations, the web app) before the catch-all /:imgID routes.
  await authRoutes(app, deps);
  await app.register(meRoutes, { deps });
  await recommendationsRoutes(app, deps);
  await app.register(webAppRoutes, { deps });
  await imagesRoutes(app, deps);
  return app;
}
