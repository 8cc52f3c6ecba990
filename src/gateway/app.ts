import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import formBodies from '../platform/forms.js';
import { createHttpServer } from '../platform/http.js';
import { createAuthCheck } from './auth-check.js';
import type { GatewayDeps } from './deps.js';
import { crossSiteCheck } from './cross-site.js';
import { withImageCache } from './image-cache.js';
import { gatewayApiDocs } from './plugins/api-docs.js';
import authentication from './plugins/authentication.js';
import { authRoutes } from './routes/auth.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { recommendationsRoutes } from './routes/recommendations.routes.js';
import { patternNames } from './schemas.js';
import { webAppRoutes } from './web-app.js';

export type { GatewayDeps } from './deps.js';

/** The largest request: a JSON upload carries the image in base64 (a third larger than its bytes). */
const bodyLimit = 16 * 1024 * 1024;

/** Builds one gateway worker's app: the public REST API. Tests call this directly. */
export async function buildGatewayApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = createHttpServer({ logger: deps.logger, metrics: deps.metrics, bodyLimit, patternNames, apiDocs: gatewayApiDocs });
  // Image reads go through the cache ring; PATCH and DELETE invalidate it.
  const routeDeps: GatewayDeps = { ...deps, images: withImageCache(deps.images, deps.sharedState, { ttlSeconds: deps.config.IMAGE_CACHE_TTL_SECONDS }) };

  // Before any route: cookie-authenticated writes from other sites are refused.
  crossSiteCheck(app, deps);
  await app.register(fastifyCookie);
  // An upload form: one file (its size is checked against the images service's limit after), a few short fields.
  await app.register(fastifyMultipart, { limits: { fileSize: bodyLimit, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 25 } });
  await app.register(formBodies);
  await app.register(authentication, { check: createAuthCheck(routeDeps) });

  await app.register(authRoutes, { deps: routeDeps });
  await app.register(imagesRoutes, { deps: routeDeps });
  await app.register(recommendationsRoutes, { deps: routeDeps });
  await app.register(meRoutes, { deps: routeDeps });
  await app.register(webAppRoutes, { deps: routeDeps });
  return app;
}
