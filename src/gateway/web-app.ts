import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { repoRoot } from '../platform/repo-root.js';
import type { GatewayDeps } from './deps.js';

// The web app (web/, built by Vite into web/dist) under /app/. Hashed assets are cached for a
// year; index.html and the other unhashed files are revalidated on every use, so a new build
// shows at the next page load. Every path under /app/ that is not a file is a page of the app
// (client-side routing) and gets index.html. A browser asking for / is sent to /app/.

export const webAppPrefix = '/app/';

/**
 * The app's Content-Security-Policy: only our own scripts, styles, images and API; no inline
 * script or style, no eval. blob: images are the upload form's preview of the chosen file.
 */
export const webAppContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const immutable = 'public, max-age=31536000, immutable';
const revalidate = 'no-cache';

export function webAppDirectory(config: GatewayDeps['config']): string {
  return config.WEB_APP_DIR ? resolve(config.WEB_APP_DIR) : join(repoRoot(), 'web', 'dist');
}

/** A plugin: @fastify/static's reply.sendFile stays inside it. */
export const webAppRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const root = webAppDirectory(deps.config);
  const built = existsSync(join(root, 'index.html'));
  if (!built) deps.logger.warn({ root }, 'the web app is not built (npm run build); /app/ answers 503');
  // Files at the top of the build (favicon and the like); read once, a rebuild keeps the names.
  const topLevelFiles = new Set(built ? readdirSync(root, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name) : []);

  if (built) await app.register(fastifyStatic, { root, serve: false, cacheControl: false, dotfiles: 'deny' });

  const sendPage = (reply: FastifyReply) => {
    if (!built) {
      return reply.status(503).send({ message: 'failure', error: 'the web app is not built: run `npm run build`', code: 'UNAVAILABLE' });
    }
    return reply
      .header('cache-control', revalidate)
      .header('content-security-policy', webAppContentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .sendFile('index.html');
  };

  const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
  const redirect = (description: string) => ({ description, headers: { location: { type: 'string' } } });
  const notBuilt = { description: 'the web app is not built (npm run build)', type: 'object', properties: { message: { const: 'failure' }, error: { type: 'string' }, code: { const: 'UNAVAILABLE' } } };

  app.get('/', {
    schema: {
      summary: 'A browser is sent to the web app; any other client gets 404',
      tags: ['web app'],
      response: { 302: redirect('to /app/ (the request accepts text/html)'), 404: { description: 'not a browser', type: 'object', properties: { message: { const: 'failure' }, error: { type: 'string' }, code: { const: 'NOT_FOUND' } } } },
    },
  }, async (request, reply) => {
    const accept = request.headers.accept ?? '';
    if (accept.includes('text/html')) return reply.redirect(webAppPrefix, 302);
    return reply.status(404).send({ message: 'failure', error: `no such endpoint; the web app is at ${webAppPrefix}`, code: 'NOT_FOUND' });
  });
  app.get('/app', { schema: { summary: 'Sent on to /app/', tags: ['web app'], response: { 301: redirect('to /app/') } } }, async (_request, reply) => reply.redirect(webAppPrefix, 301));

  app.get<{ Params: { '*': string } }>('/app/*', {
    schema: {
      summary: 'The web app: its files, and index.html for every page (client-side routing)',
      tags: ['web app'],
      response: { 200: html('a page (strict Content-Security-Policy) or one of its files; hashed assets are cached for a year'), 503: notBuilt },
    },
  }, async (request, reply) => {
    const path = request.params['*'];
    if (!built) return sendPage(reply);
    if (path.startsWith('assets/')) {
      // Content-hashed names: a changed file gets a new name, so the old one may be kept forever.
      return reply.header('cache-control', immutable).header('x-content-type-options', 'nosniff').sendFile(path);
    }
    if (topLevelFiles.has(path) && path !== 'index.html') {
      return reply.header('cache-control', revalidate).header('x-content-type-options', 'nosniff').sendFile(path);
    }
    return sendPage(reply);
  });
};
