import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { AuthCheck, Caller } from '../auth-check.js';

// Who is calling, for every route: `request.caller()` is the verified caller or a 401
// (UNAUTHENTICATED); `request.callerIfAny()` is the caller when a usable token came with the
// request, and anonymous (undefined) otherwise. The token comes from `Authorization: Bearer`, the
// body field `accessToken` (JSON or a form field) or the `accessToken` cookie, so it reads the
// body after the route's schema has validated it, and needs @fastify/cookie.

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; rejects with UNAUTHENTICATED (401) without a valid access token. */
    caller(): Promise<Caller>;
    /** The caller when a valid access token came with the request; undefined (anonymous) otherwise. */
    callerIfAny(): Promise<Caller | undefined>;
  }
}

export interface AuthenticationOptions {
  check: AuthCheck;
}

async function authentication(app: FastifyInstance, { check }: AuthenticationOptions): Promise<void> {
  app.decorateRequest('caller', function caller(this: FastifyRequest) {
    return check.require(this);
  });
  app.decorateRequest('callerIfAny', function callerIfAny(this: FastifyRequest) {
    return check.optional(this);
  });
}

export default fastifyPlugin(authentication, { name: 'easel-authentication', fastify: '5.x', dependencies: ['@fastify/cookie'] });
