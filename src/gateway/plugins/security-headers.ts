import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

// Security headers on every answer, chosen by helmet. @fastify/helmet rebuilt helmet's whole
// middleware (every directive parsed again) for each request, a tenth of a cached image hit's
// CPU; the headers here do not depend on the request, so helmet computes them once at start and
// every answer gets the same set. A route may still replace one (the web app's own CSP).

/** The headers helmet would set for `options`, by name (lower case). */
export function securityHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const collector = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, collector as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  return Object.freeze(headers);
}

export const securityHeadersPlugin = fastifyPlugin(async (app: FastifyInstance, options: { helmet: Readonly<HelmetOptions> }) => {
  const headers = securityHeaders(options.helmet);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}, { name: 'security-headers' });
