import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { limits, patterns } from '../../contracts/limits.js';
import { invalidCredentialsMessage, type TokenPair } from '../../contracts/users.js';
import { errorCode, invalidArgument, isAppError, unauthenticated } from '../../platform/errors.js';
import { accessTokenCookie, cookieOf, refreshTokenCookie } from '../auth-check.js';
import type { GatewayDeps } from '../deps.js';
import { createLoginRateLimiter, rateLimitsFrom } from '../rate-limit.js';
import { createRevocationList } from '../revocation.js';
import { failures, optionalBody, patternField, success, successBody, tokenField } from '../schemas.js';

// POST /signup, /login, /refresh, /logout in the original contract's shapes (docs/departures.md;
// every route's answers are in docs/openapi.json). Tokens go in the body and
// in HttpOnly, SameSite=Lax cookies.

export const invalidRefreshTokenMessage = 'invalid or expired refresh token';

const signupBody = Type.Object({
  name: patternField(patterns.accountName),
  password: Type.String({ minLength: limits.account.passwordMin, maxLength: limits.account.passwordMax }),
}, { additionalProperties: false });

// Any name and password of bounded length may try; a wrong one is a 401 like an unknown name.
const loginBody = Type.Object({
  name: Type.String({ maxLength: limits.account.loginNameMax }),
  password: Type.String({ maxLength: limits.account.passwordMax }),
}, { additionalProperties: false });

const tokenPairBody = Type.Object({ accessToken: Type.String(), refreshToken: Type.String(), error: Type.Literal('') });

/** A refresh token in the body, or else the `refreshToken` cookie. */
const refreshBody = optionalBody({ refreshToken: Type.Optional(tokenField) });
const logoutBody = optionalBody({ refreshToken: Type.Optional(tokenField), accessToken: Type.Optional(tokenField) });

export const authRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const revocation = createRevocationList(deps.sharedState);
  const loginLimiter = createLoginRateLimiter(deps.sharedState, rateLimitsFrom(deps.config).login);
  const secureCookies = deps.config.COOKIE_SECURE;
  const cookieOptions = (maxAgeSeconds: number): CookieSerializeOptions => ({ httpOnly: true, sameSite: 'lax', path: '/', secure: secureCookies, maxAge: Math.max(0, maxAgeSeconds) });

  const setTokenCookies = (reply: FastifyReply, pair: TokenPair) => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    reply.setCookie(accessTokenCookie, pair.accessToken, cookieOptions(pair.accessExpiresAt - nowSeconds));
    reply.setCookie(refreshTokenCookie, pair.refreshToken, cookieOptions(pair.refreshExpiresAt - nowSeconds));
  };
  const clearTokenCookies = (reply: FastifyReply) => {
    reply.clearCookie(accessTokenCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies });
    reply.clearCookie(refreshTokenCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies });
  };

  app.post('/signup', {
    schema: {
      summary: 'Create an account',
      tags: ['accounts'],
      body: signupBody,
      response: { 201: successBody, ...failures('failure', { 400: 'the name or password breaks the rules', 409: 'the name is taken' }) },
    },
    // The original answers every malformed sign-up with one text.
    schemaErrorFormatter: () => invalidArgument(invalidCredentialsMessage),
  }, async (request, reply) => {
    await deps.users.Register(request.body, { requestId: request.id });
    return reply.status(201).send(success);
  });

  app.post('/login', {
    schema: {
      summary: 'Log in: an access and a refresh token, in the body and as cookies',
      tags: ['accounts'],
      body: loginBody,
      response: {
        200: tokenPairBody,
        ...failures('tokenPair', { 400: 'name or password missing or too long', 401: 'wrong name or password', 429: 'too many failed logins; try again after Retry-After' }),
      },
    },
    config: { failureShape: 'tokenPair' },
  }, async (request, reply) => {
    const { name, password } = request.body;
    // The counters live in the shared state; if it cannot answer, logins go on unlimited rather than stop.
    const limiterDown = (error: unknown) => request.log.warn({ err: error }, 'login rate limit not enforced: shared state unavailable');
    try {
      await loginLimiter.check(name, request.ip);
    } catch (error) {
      if (errorCode(error) !== 'RATE_LIMITED') limiterDown(error);
      else {
        request.log.warn({ address: request.ip }, 'login refused: too many failures');
        throw error;
      }
    }
    try {
      const pair = await deps.users.Login({ name, password }, { requestId: request.id });
      await loginLimiter.recordSuccess(name).catch(limiterDown);
      setTokenCookies(reply, pair);
      return reply.send({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, error: '' as const });
    } catch (error) {
      if (errorCode(error) === 'UNAUTHENTICATED') await loginLimiter.recordFailure(name, request.ip).catch(limiterDown);
      throw error;
    }
  });

  app.post('/refresh', {
    schema: {
      summary: 'Trade a refresh token (body or cookie) for a new pair; the old one is used up',
      tags: ['accounts'],
      body: refreshBody,
      response: { 200: tokenPairBody, ...failures('tokenPair', { 400: 'malformed body', 401: 'the refresh token is unknown, expired, revoked or already used' }) },
    },
    config: { failureShape: 'tokenPair' },
  }, async (request, reply) => {
    try {
      const presented = request.body?.refreshToken || cookieOf(request, refreshTokenCookie);
      if (!presented) throw unauthenticated(invalidRefreshTokenMessage);
      const pair = await deps.users.Refresh({ refreshToken: presented }, { requestId: request.id });
      setTokenCookies(reply, pair);
      return reply.send({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, error: '' as const });
    } catch (error) {
      if (isAppError(error) && error.code === 'UNAUTHENTICATED') {
        clearTokenCookies(reply);
        // A rotated refresh token came back: someone holds a stolen copy. The users service has
        // revoked the family; its access tokens still in circulation go too.
        const sessionId = error.details?.sessionId;
        if (error.details?.reason === 'reused' && typeof sessionId === 'string') {
          await revocation.revokeSession(sessionId);
          request.log.warn({ sessionId }, 'refresh token reused; session revoked');
        }
      }
      throw error;
    }
  });

  app.post('/logout', {
    schema: {
      summary: 'Log out: the session\'s tokens are refused from now on, by every gateway worker',
      tags: ['accounts'],
      body: logoutBody,
      response: { 200: successBody, ...failures('failure', { 400: 'malformed body', 401: 'no valid access token' }) },
    },
  }, async (request, reply) => {
    const caller = await request.caller();
    const refreshToken = request.body?.refreshToken || cookieOf(request, refreshTokenCookie);
    // The access tokens first: refused by every worker from now on, whatever happens next.
    await revocation.revoke(caller.tokenId, caller.expiresAt);
    if (caller.sessionId) await revocation.revokeSession(caller.sessionId);
    await deps.users.Logout({ userId: caller.userId, sessionId: caller.sessionId, refreshToken }, { requestId: request.id, actingUser: caller });
    clearTokenCookies(reply);
    request.log.info({ userId: caller.userId, tokenId: caller.tokenId }, 'logged out; access token revoked');
    return reply.send(success);
  });
};
