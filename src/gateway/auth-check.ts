import type { FastifyRequest } from 'fastify';
import { errors as joseErrors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import { Counter } from 'prom-client';
import { accessTokenClaims } from '../contracts/users.js';
import { AppError, isAppError, unauthenticated } from '../platform/errors.js';
import type { GatewayDeps } from './deps.js';
import { createRevocationList, type RevocationList } from './revocation.js';

/** Who is calling, from a verified access token. */
export interface Caller {
  userId: string;
  name: string;
  /** The access token's id, for revocation on logout. */
  tokenId: string;
  /** Epoch seconds when the access token expires. */
  expiresAt: number;
  /** The login session (refresh-token family) the token belongs to; logout revokes it. */
  sessionId?: string;
}

/**
 * Verifies the access token from the `accessToken` cookie, `Authorization: Bearer`, or the body
 * field `accessToken`, locally with the users service's public key, and checks revocation.
 * Routes reach it through the authentication plugin (`request.caller()`).
 */
export interface AuthCheck {
  /** The caller, or throws AppError UNAUTHENTICATED. */
  require(request: FastifyRequest): Promise<Caller>;
  /** The caller when a valid token is present, otherwise undefined (anonymous). */
  optional(request: FastifyRequest): Promise<Caller | undefined>;
}

export const invalidAccessTokenMessage = 'invalid or expired access token';
export const accessTokenCookie = 'accessToken';
export const refreshTokenCookie = 'refreshToken';

export interface AuthCheckOptions {
  /** Epoch milliseconds; tests may pass their own clock. */
  now?: () => number;
  /** Least time between two fetches of the users service's keys (an unknown key id asks again). */
  keyRefetchIntervalMs?: number;
  revocation?: RevocationList;
  /**
   * The longest an access token may live (issued-at to expiry, and issued-at to now): a token
   * minted for years, with a stolen key or by a bug, is refused however valid its signature.
   */
  maxTokenAgeSeconds?: number;
}

/** Access tokens live 15 minutes by default (users service); an hour leaves room for a longer setting. */
export const defaultMaxTokenAgeSeconds = 3600;

/**
 * The access token of a request: `Authorization: Bearer` first, then the body field, then the
 * cookie (an explicit token wins over one the browser sends by itself).
 */
export function accessTokenOf(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const body = request.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    const fromBody = (body as Record<string, unknown>).accessToken;
    if (typeof fromBody === 'string' && fromBody !== '') return fromBody;
  }
  return cookieOf(request, accessTokenCookie);
}

/** A cookie's value; an empty one counts as absent. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  return request.cookies[name] || undefined;
}

export function createAuthCheck(deps: Pick<GatewayDeps, 'users' | 'sharedState' | 'logger' | 'metrics'>, options: AuthCheckOptions = {}): AuthCheck {
  const now = options.now ?? Date.now;
  const refetchIntervalMs = options.keyRefetchIntervalMs ?? 30_000;
  const maxTokenAgeSeconds = options.maxTokenAgeSeconds ?? defaultMaxTokenAgeSeconds;
  const revocation = options.revocation ?? createRevocationList(deps.sharedState, now);
  const outcomes = (deps.metrics.getSingleMetric('gateway_auth_checks_total') as Counter<'outcome'> | undefined)
    ?? new Counter({ name: 'gateway_auth_checks_total', help: 'Access token checks by outcome', labelNames: ['outcome'], registers: [deps.metrics] });

  let keys = new Map<string, CryptoKey>();
  /** The key set now in use, as "kid=x,..." sorted: what two answers must agree on to replace it. */
  let fingerprint: string | undefined;
  let lastFetchAt = -Infinity;
  let fetching: Promise<void> | undefined;

  /** One answer of the users service, signed with the cluster secret over a nonce of ours (else the call fails). */
  const askForKeys = async () => {
    const { keys: jwks } = await deps.users.SigningKeys({}, { authenticatedAnswer: true });
    const next = new Map<string, CryptoKey>();
    const seen: string[] = [];
    for (const jwk of jwks as JWK[]) {
      // Only Ed25519 keys for EdDSA; anything else the users service might publish is ignored.
      if (typeof jwk.kid !== 'string' || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
      if (jwk.alg !== undefined && jwk.alg !== accessTokenClaims.algorithm) continue;
      const key = await importJWK({ ...jwk, alg: accessTokenClaims.algorithm }, accessTokenClaims.algorithm);
      if (!(key instanceof Uint8Array)) {
        next.set(jwk.kid, key);
        seen.push(`${jwk.kid}=${jwk.x}`);
      }
    }
    return { keys: next, fingerprint: seen.sort().join(',') };
  };

  /**
   * The keys change only when two answers agree (two calls, which the balancer spreads over
   * the users instances): one answer that differs, whoever sent it, leaves the keys as they were.
   */
  const fetchKeys = async () => {
    lastFetchAt = now();
    try {
      const first = await askForKeys();
      if (first.fingerprint === fingerprint) return;
      const second = await askForKeys();
      if (second.fingerprint !== first.fingerprint) {
        deps.logger.warn({ keyIds: [...keys.keys()] }, 'two answers of the users service disagree on the verification keys; keeping the current ones');
        return;
      }
      if (first.keys.size === 0) return;
      keys = first.keys;
      fingerprint = first.fingerprint;
      deps.logger.info({ keyIds: [...keys.keys()] }, 'loaded access-token verification keys');
    } catch (error) {
      // Try again a second later rather than a whole interval.
      lastFetchAt = now() - refetchIntervalMs + 1_000;
      throw error;
    }
  };

  /** Fetches at first use and on an unknown key id, at most once per interval (one fetch at a time). */
  const refreshKeys = async () => {
    if (fetching) return fetching;
    if (now() - lastFetchAt < refetchIntervalMs) return;
    fetching = fetchKeys().finally(() => {
      fetching = undefined;
    });
    return fetching;
  };

  const keyFor = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    if (header.alg !== accessTokenClaims.algorithm || typeof header.kid !== 'string') throw new joseErrors.JOSEAlgNotAllowed('unexpected algorithm or key id');
    let key = keys.get(header.kid);
    if (!key) {
      try {
        await refreshKeys();
      } catch (error) {
        deps.logger.warn({ err: error }, 'could not fetch access-token verification keys');
      }
      // Without any key we cannot tell a good token from a bad one: that is our outage, not the caller's fault.
      if (keys.size === 0) throw new AppError('UNAVAILABLE', 'authentication is temporarily unavailable', { retryAfterSeconds: 1 });
      key = keys.get(header.kid);
    }
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key;
  };

  const verify = async (token: string): Promise<Caller> => {
    try {
      const { payload } = await jwtVerify(token, keyFor, {
        algorithms: [accessTokenClaims.algorithm],
        issuer: accessTokenClaims.issuer,
        audience: accessTokenClaims.audience,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        currentDate: new Date(now()),
        clockTolerance: 5,
        maxTokenAge: maxTokenAgeSeconds,
      });
      const { sub, jti, exp, iat, name, sid } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof name !== 'string') throw new Error('malformed claims');
      if (typeof iat !== 'number' || exp - iat > maxTokenAgeSeconds) throw new Error('token lifetime too long');
      if (await revocation.isRevoked(jti, typeof sid === 'string' ? sid : undefined)) {
        outcomes.inc({ outcome: 'revoked' });
        throw unauthenticated(invalidAccessTokenMessage);
      }
      outcomes.inc({ outcome: 'valid' });
      return { userId: sub, name, tokenId: jti, expiresAt: exp, ...(typeof sid === 'string' ? { sessionId: sid } : {}) };
    } catch (error) {
      if (isAppError(error)) {
        if (error.code !== 'UNAUTHENTICATED') outcomes.inc({ outcome: 'error' });
        throw error;
      }
      outcomes.inc({ outcome: 'invalid' });
      deps.logger.debug({ reason: (error as { code?: unknown }).code ?? 'malformed' }, 'access token refused');
      throw unauthenticated(invalidAccessTokenMessage);
    }
  };

  // Fetched at start, so the first request does not wait for it.
  refreshKeys().catch((error: unknown) => deps.logger.warn({ err: error }, 'could not fetch access-token verification keys yet'));

  return {
    require: async (request) => {
      const token = accessTokenOf(request);
      if (!token) {
        outcomes.inc({ outcome: 'missing' });
        throw unauthenticated(invalidAccessTokenMessage);
      }
      return verify(token);
    },
    optional: async (request) => {
      const token = accessTokenOf(request);
      if (!token) return undefined;
      try {
        return await verify(token);
      } catch (error) {
        // A bad or stale token on a public route makes the caller anonymous, not refused.
        request.log.debug({ code: isAppError(error) ? error.code : 'INTERNAL' }, 'ignoring an unusable access token');
        return undefined;
      }
    },
  };
}
