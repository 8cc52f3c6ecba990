import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { limits, patterns } from '../../contracts/limits.js';
import { invalidCredentialsMessage, type TokenPair } from '../../contracts/users.js';
import { errorCode, invalidArgument, isAppError, unauthenticated } from '../../platform/errors.js';
import { accessTokenCookie, cookieOf, refreshTokenCookie, type Caller } from '../auth-check.js';
import type { GatewayDeps } from '../deps.js';
import { secureCookies as secureCookiesFor } from '../config.js';
import { createLoginRateLimiter, rateLimitsFrom, signupRateLimit } from '../rate-limit.js';
import { createRevocationList } from '../revocation.js';
import { failures, optionalBody, patternField, success, successBody, tokenField } from '../schemas.js';

// POST /signup, /login, /refresh, /logout in the original contract's shapes (docs/departures.md;
// every route's answers are in docs/openapi.json). Tokens go in the body and
// in HttpOnly, SameSite=Lax cookies.

export const invalidRefreshTokenMessage = 'invalid or expired refresh token';

/**
 * The refresh cookie goes to POST /refresh alone. /logout does not need it from a browser: a
 * valid access token names the session (its `sid`), and the web app meets a 401 there with one
 * refresh and a retry; API clients may send the refresh token in the body.
 */
export const refreshCookiePath = '/refresh';

/**
 * A sign-up rides through a database failover (docs/failover.md): the users service holds it
 * until the new primary takes it. A sign-up sent just as the primary's node is killed waits for
 * the whole promotion, measured at 8-10 s on a loaded two-core machine and more than 11.7 s once
 * in CI, so 12 s was too tight. One attempt with the whole budget: Register is not repeated on
 * another instance, so a shorter per-try timeout would only turn a slow sign-up into a failed
 * one. 14 s stays inside a client's usual 15 s timeout.
 */
const signupTimeouts = { timeoutMs: 14_000, perTryTimeoutMs: 14_000 };

/**
 * A login waits its turn for the password hasher (one hash at a time per users replica), which
 * under load takes seconds: the transport's 2 s per try counted such waits as timeouts against
 * healthy replicas, opened their breakers and answered 503 (28 of 103 logins in one chaos drill).
 * 6 s per try still moves a login off a frozen replica within the 12 s budget.
 */
const loginTimeouts = { timeoutMs: 12_000, perTryTimeoutMs: 6_000 };

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
  const limits = rateLimitsFrom(deps.config);
  const loginLimiter = createLoginRateLimiter(deps.sharedState, limits.login);
  const secureCookies = secureCookiesFor(deps.config);
  // The access token goes with every request; the refresh token only where it is used (/refresh),
  // so no other route ever receives it.
  const cookiePath: Record<string, string> = { [accessTokenCookie]: '/', [refreshTokenCookie]: refreshCookiePath };
  const cookieOptions = (name: string, maxAgeSeconds?: number): CookieSerializeOptions => ({
    httpOnly: true, sameSite: 'lax', path: cookiePath[name], secure: secureCookies, ...(maxAgeSeconds === undefined ? {} : { maxAge: Math.max(0, maxAgeSeconds) }),
  });

  const setTokenCookies = (reply: FastifyReply, pair: TokenPair) => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    reply.setCookie(accessTokenCookie, pair.accessToken, cookieOptions(accessTokenCookie, pair.accessExpiresAt - nowSeconds));
    reply.setCookie(refreshTokenCookie, pair.refreshToken, cookieOptions(refreshTokenCookie, pair.refreshExpiresAt - nowSeconds));
  };
  const clearTokenCookies = (reply: FastifyReply) => {
    reply.clearCookie(accessTokenCookie, cookieOptions(accessTokenCookie));
    reply.clearCookie(refreshTokenCookie, cookieOptions(refreshTokenCookie));
    // Sessions from before the narrow path had the refresh cookie on "/": clear that one too.
    reply.clearCookie(refreshTokenCookie, { ...cookieOptions(refreshTokenCookie), path: '/' });
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
    // Counted before any work; the counters fail open when the shared state cannot answer.
    await signupRateLimit(deps.sharedState, request.ip, limits.signup).catch((error: unknown) => {
      if (errorCode(error) === 'RATE_LIMITED') throw error;
      request.log.warn({ err: error }, 'sign-up rate limit not enforced: shared state unavailable');
    });
    await deps.users.Register(request.body, { requestId: request.id, ...signupTimeouts });
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
      // Counted before the password is checked, so concurrent guesses cannot slip past the limit.
      await loginLimiter.attempt(name, request.ip);
    } catch (error) {
      if (errorCode(error) !== 'RATE_LIMITED') limiterDown(error);
      else {
        request.log.warn({ address: request.ip }, 'login refused: too many attempts');
        throw error;
      }
    }
    try {
      const pair = await deps.users.Login({ name, password }, { requestId: request.id, ...loginTimeouts });
      await loginLimiter.giveBack(name, request.ip).catch(limiterDown);
      setTokenCookies(reply, pair);
      return reply.send({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, error: '' as const });
    } catch (error) {
      // Only a wrong name or password stays counted; an outage is not the caller's guess.
      if (errorCode(error) !== 'UNAUTHENTICATED') await loginLimiter.giveBack(name, request.ip).catch(limiterDown);
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
    const refreshToken = request.body?.refreshToken || cookieOf(request, refreshTokenCookie);
    let caller: Caller;
    try {
      caller = await request.caller();
    } catch (error) {
      // An access token that expired (or any unusable one) must not leave the session alive: the
      // refresh token alone names it, so its family is revoked and the cookies cleared.
      if (errorCode(error) !== 'UNAUTHENTICATED' || !refreshToken) throw error;
      await deps.users.Logout({ refreshToken }, { requestId: request.id });
      clearTokenCookies(reply);
      request.log.info('logged out by refresh token (no valid access token)');
      return reply.send(success);
    }
    // The access tokens first: refused by every worker from now on, whatever happens next.
    await revocation.revoke(caller.tokenId, caller.expiresAt);
    if (caller.sessionId) await revocation.revokeSession(caller.sessionId);
    await deps.users.Logout({ userId: caller.userId, sessionId: caller.sessionId, refreshToken }, { requestId: request.id, actingUser: caller });
    clearTokenCookies(reply);
    request.log.info({ userId: caller.userId, tokenId: caller.tokenId }, 'logged out; access token revoked');
    return reply.send(success);
  });
};
