import fastifyCookie, { type CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TokenPair } from '../../contracts/users.js';
import { errorCode, isAppError, unauthenticated } from '../../platform/errors.js';
import { accessTokenCookie, cookieOf, getAuthCheck, refreshTokenCookie } from '../auth-check.js';
import type { GatewayDeps } from '../deps.js';
import { createLoginRateLimiter, rateLimitsFrom } from '../rate-limit.js';
import { createRevocationList } from '../revocation.js';

// POST /signup, /login, /refresh, /logout in the original's shapes. Tokens go in the body and
// in HttpOnly, SameSite=Lax cookies.

export const invalidRefreshTokenMessage = 'invalid or expired refresh token';

export async function authRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  // Other route modules may read cookies too; the plugin is registered once for the whole app.
  if (!app.hasDecorator('parseCookie')) await app.register(fastifyCookie);

  const auth = getAuthCheck(deps);
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


  app.post('/signup', async (request, reply) => {
    const { name, password } = credentialsOf(request.body);
    await deps.users.Register({ name, password }, { requestId: request.id });
    return reply.status(201).send({ message: 'success', error: '' });
  });

  app.post('/login', { config: { failureShape: 'tokenPair' } }, async (request, reply) => {
    const { name, password } = credentialsOf(request.body);
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
      return reply.send({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, error: '' });
    } catch (error) {
      if (errorCode(error) === 'UNAUTHENTICATED') await loginLimiter.recordFailure(name, request.ip).catch(limiterDown);
      throw error;
    }
  });

  app.post('/refresh', { config: { failureShape: 'tokenPair' } }, async (request, reply) => {
    try {
      const presented = stringField(request.body, 'refreshToken') ?? cookieOf(request, refreshTokenCookie);
      if (!presented) throw unauthenticated(invalidRefreshTokenMessage);
      const pair = await deps.users.Refresh({ refreshToken: presented }, { requestId: request.id });
      setTokenCookies(reply, pair);
      return reply.send({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, error: '' });
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

  app.post('/logout', async (request, reply) => {
    const caller = await auth.require(request);
    const refreshToken = stringField(request.body, 'refreshToken') ?? cookieOf(request, refreshTokenCookie);
    // The access tokens first: refused by every worker from now on, whatever happens next.
    await revocation.revoke(caller.tokenId, caller.expiresAt);
    if (caller.sessionId) await revocation.revokeSession(caller.sessionId);
    await deps.users.Logout({ userId: caller.userId, sessionId: caller.sessionId, refreshToken }, { requestId: request.id });
    clearTokenCookies(reply);
    request.log.info({ userId: caller.userId, tokenId: caller.tokenId }, 'logged out; access token revoked');
    return reply.send({ message: 'success', error: '' });
  });
}

function stringField(body: unknown, field: string): string | undefined {
  if (!body || typeof body !== 'object' || Buffer.isBuffer(body)) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Name and password as strings; anything missing or not a string counts as empty (the users service refuses it). */
function credentialsOf(body: unknown): { name: string; password: string } {
  return { name: stringField(body, 'name') ?? '', password: stringField(body, 'password') ?? '' };
}
