import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import formBodies from '../platform/forms.js';
import { createHttpServer } from '../platform/http.js';
import { createAuthCheck } from './auth-check.js';
import type { GatewayDeps } from './deps.js';
import { crossSiteCheck } from './cross-site.js';
import { createImageCache, registerImageCacheMetrics } from './image-cache.js';
import { gatewayApiDocs } from './plugins/api-docs.js';
import authentication from './plugins/authentication.js';
import inputHygiene from './plugins/input-hygiene.js';
import { securityHeadersPlugin } from './plugins/security-headers.js';
import { createViewBatcher, registerViewMetrics } from './view-batcher.js';
import { authRoutes } from './routes/auth.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { recommendationsRoutes } from './routes/recommendations.routes.js';
import { patternNames } from './schemas.js';
import { webAppRoutes } from './web-app.js';

export type { GatewayDeps } from './deps.js';

/** The largest request: a JSON upload carries the image in base64 (a third larger than its bytes). */
const bodyLimit = 16 * 1024 * 1024;
/** One batch of views may wait this long for the recommendations service (retries included). */
const viewSendTimeoutMs = 5_000;

/** Builds one gateway worker's app: the public REST API. Tests call this directly. */
export async function buildGatewayApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = createHttpServer({
    logger: deps.logger, metrics: deps.metrics, bodyLimit, patternNames, apiDocs: gatewayApiDocs,
    fastify: {
      // The client address for rate limits: X-Forwarded-For only from the proxies configured.
      trustProxy: config.TRUST_PROXY,
      // A slow client holds a connection for a bounded time: headers, the whole request with its
      // body, and idleness between requests each have a limit.
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      connectionTimeout: config.CONNECTION_IDLE_TIMEOUT_MS,
      keepAliveTimeout: Math.min(5_000, config.CONNECTION_IDLE_TIMEOUT_MS),
    },
  });
  // Past the cap, new connections are dropped at once instead of queueing behind slow ones.
  app.server.maxConnections = config.MAX_CONNECTIONS;
  app.server.headersTimeout = config.HEADERS_TIMEOUT_MS;
  // Node checks the header and request timeouts on this interval (30 s by default, which would
  // let a slow client hold on half a minute past its limit). Read when the server starts listening.
  (app.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = 1_000;
  // Image reads go through the cache ring; PATCH and DELETE invalidate it.
  const imageCache = createImageCache(deps.images, deps.sharedState, {
    ttlSeconds: deps.config.IMAGE_CACHE_TTL_SECONDS,
    hotTierBytes: deps.config.IMAGE_HOT_TIER_MB * 1024 * 1024,
    generationLeaseMs: deps.config.IMAGE_GENERATION_LEASE_MS,
  });
  registerImageCacheMetrics(deps.metrics, imageCache);
  const views = deps.views ?? createViewBatcher({
    send: async (batch) => void (await deps.recommendations.RecordViews({ views: batch }, { timeoutMs: viewSendTimeoutMs })),
    logger: deps.logger,
    intervalMs: deps.config.VIEW_FLUSH_INTERVAL_MS,
  });
  registerViewMetrics(deps.metrics, views);
  const routeDeps: GatewayDeps = { ...deps, images: imageCache.images, imageCache, views };
  // Closing the app (a graceful stop) sends the views counted so far; see view-batcher.ts.
  app.addHook('onClose', () => views.stop());

  // Security headers on every answer: nosniff, no framing, and a CSP that allows nothing and
  // sandboxes the document, so image bytes and JSON can never run as a page. The web app's
  // index.html sets its own strict policy (web-app.ts). Images may be embedded by other sites.
  await app.register(securityHeadersPlugin, {
    helmet: {
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ['\'none\''], baseUri: ['\'none\''], formAction: ['\'none\''], frameAncestors: ['\'none\''], sandbox: [] } },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    },
  });
  // Before any route: cookie-authenticated writes from other sites are refused.
  crossSiteCheck(app, deps);
  await app.register(fastifyCookie);
  // An upload form: one file (its size is checked against the images service's limit after), a few short fields.
  await app.register(fastifyMultipart, { limits: { fileSize: bodyLimit, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 25 } });
  await app.register(formBodies);
  // After the form is read, before any schema: no control characters or bidi overrides anywhere.
  await app.register(inputHygiene);
  await app.register(authentication, { check: createAuthCheck(routeDeps, { maxTokenAgeSeconds: deps.config.MAX_ACCESS_TOKEN_AGE_SECONDS }) });

  await app.register(authRoutes, { deps: routeDeps });
  await app.register(imagesRoutes, { deps: routeDeps });
  await app.register(recommendationsRoutes, { deps: routeDeps });
  await app.register(meRoutes, { deps: routeDeps });
  await app.register(webAppRoutes, { deps: routeDeps });
  return app;
}
