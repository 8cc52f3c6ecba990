import type { FastifyInstance } from 'fastify';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { accessTokenClaims, type TokenPair } from '../../../src/contracts/users.js';
import { AppError } from '../../../src/platform/errors.js';
import { loadConfig } from '../../../src/platform/config.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { gatewayConfigSchema } from '../../../src/gateway/config.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { createRevocationList } from '../../../src/gateway/revocation.js';
import { buildGatewayApp } from '../../../src/gateway/app.js';
import { type SharedState } from '../../../src/gateway/shared-state.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { uploadRateLimit } from '../../../src/gateway/rate-limit.js';
import { testClusterSecret } from '../../support/credentials.js';

// The auth routes when the shared state (the cache ring) cannot answer, against a stand-in
// users service; requests through Fastify's inject (no network).

let app: FastifyInstance;
let state: SharedState;
let healthyState: SharedState;
let ringDown: boolean;

async function tokenPair(): Promise<{ pair: TokenPair; jwk: Record<string, unknown> }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const now = Math.floor(Date.now() / 1000);
  const accessToken = await new SignJWT({ name: 'Mario', sid: 'session-1' }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setSubject('user-1').setJti('token-1').setIssuer(accessTokenClaims.issuer).setAudience(accessTokenClaims.audience)
    .setIssuedAt(now).setExpirationTime(now + 900).sign(privateKey);
  const pair = { userId: 'user-1', name: 'Mario', accessToken, refreshToken: 'r1', accessExpiresAt: now + 900, refreshExpiresAt: now + 3600 };
  return { pair, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' } };
}

let pair: TokenPair;

beforeEach(async () => {
  const made = await tokenPair();
  pair = made.pair;
  ringDown = false;
  healthyState = inMemorySharedState();
  // A ring with every node down: reads miss, writes land nowhere, counters answer null.
  state = {
    get: (key) => (ringDown ? Promise.resolve(null) : healthyState.get(key)),
    set: (key, value, ttl) => (ringDown ? Promise.resolve(0) : healthyState.set(key, value, ttl)),
    delete: (...keys) => (ringDown ? Promise.resolve() : healthyState.delete(...keys)),
    incrementWithin: (key, window) => (ringDown ? Promise.resolve(null) : healthyState.incrementWithin(key, window)),
  };
  const users = {
    SigningKeys: async () => ({ keys: [made.jwk] }),
    Login: async ({ password }: { password: string }) => {
      if (password !== 'right password') throw new AppError('UNAUTHENTICATED', 'Your login or password is not correct');
      return pair;
    },
    Logout: async () => ({}),
  } as unknown as GatewayDeps['users'];
  const deps = {
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'gw' }),
    users,
    images: {} as GatewayDeps['images'],
    sharedState: state,
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: createMetricsRegistry('test', { defaults: false }),
  } as GatewayDeps;
  app = await buildGatewayApp(deps);
});

const post = async (url: string, options: { payload?: Record<string, unknown>; headers?: Record<string, string> } = {}) => {
  const response = await app.inject({ method: 'POST', url, ...options });
  return { status: response.statusCode, body: response.json() as Record<string, unknown>, headers: response.headers };
};

describe('auth routes with the shared state down', () => {
  it('logins still work (the rate limit fails open)', async () => {
    ringDown = true;
    expect((await post('/login', { payload: { name: 'Mario', password: 'wrong password' } })).status).toBe(401);
    const login = await post('/login', { payload: { name: 'Mario', password: 'right password' } });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ accessToken: pair.accessToken, refreshToken: 'r1', error: '' });
  });

  it('logout answers 503 rather than claim a revocation nobody stored', async () => {
    ringDown = true;
    const logout = await post('/logout', { headers: { authorization: `Bearer ${pair.accessToken}` } });
    expect(logout.status).toBe(503);
    expect(logout.body).toMatchObject({ message: 'failure', code: 'UNAVAILABLE' });
    expect(logout.headers['retry-after']).toBe('1');
    ringDown = false;
    expect((await post('/logout', { headers: { authorization: `Bearer ${pair.accessToken}` } })).status).toBe(200);
    expect(await createRevocationList(healthyState).isRevoked('token-1')).toBe(true);
  });

  it('uploads are not limited when no node counts them', async () => {
    ringDown = true;
    for (let i = 0; i < 3; i++) await uploadRateLimit({ sharedState: state }, { userId: 'u1' }, { perUser: 1, windowSeconds: 60 });
  });
});
