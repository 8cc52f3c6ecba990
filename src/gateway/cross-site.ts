import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden } from '../platform/errors.js';
import type { GatewayDeps } from './deps.js';

// Cross-site request forgery: a page elsewhere could make a signed-in visitor's browser send a
// write here with their cookies. SameSite=Lax cookies stop most of it; this check stops the rest
// (a sibling site, a form posted by a top-level navigation, login forgery). Browsers tell where a
// request comes from in Origin (every non-GET request) and Sec-Fetch-Site; a write that a browser
// sends from another origin is refused. Requests carrying an Authorization header are let through:
// a page elsewhere cannot add one without our consent (we answer no CORS preflight), and the
// clients that send one (curl, scripts, other programs) send no Origin either.

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export const crossSiteRefusal = 'cross-site request refused: writes must come from the Easel app itself or carry an Authorization header';

export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

export function crossSiteCheck(app: FastifyInstance, deps: Pick<GatewayDeps, 'config'>): void {
  const trusted = new Set(deps.config.TRUSTED_ORIGINS.map((origin) => origin.toLowerCase()));

  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (safeMethods.has(request.method)) return;
    if (typeof request.headers.authorization === 'string') return;
    const origin = request.headers.origin;
    if (typeof origin === 'string') {
      if (isSameOrigin(origin, request.headers.host) || trusted.has(origin.toLowerCase())) return;
      request.log.warn({ origin, method: request.method, url: request.url }, 'cross-site write refused');
      throw forbidden(crossSiteRefusal);
    }
    // No Origin (older browsers on same-origin requests, or not a browser at all): trust the fetch metadata if any.
    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      request.log.warn({ site, method: request.method, url: request.url }, 'cross-site write refused');
      throw forbidden(crossSiteRefusal);
    }
  });
}
