import type { FastifyInstance } from 'fastify';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { accessTokenClaims } from '../../../src/contracts/users.js';
import { AppError } from '../../../src/platform/errors.js';
import { createHttpServer } from '../../../src/platform/http.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import fastifyCookie from '@fastify/cookie';
import { accessTokenOf, createAuthCheck, type AuthCheck } from '../../../src/gateway/auth-check.js';
import authentication from '../../../src/gateway/plugins/authentication.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { createRevocationList } from '../../../src/gateway/revocation.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';

// The auth check against a stand-in users service (its SigningKeys only), with an injected
// clock and in-memory shared state; requests go through Fastify's inject (no network).

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

let clock: number;
let published: KeyPair[];
let keyFetches: number;
let usersDown: boolean;
let deps: GatewayDeps;
let check: AuthCheck;
let app: FastifyInstance;

const nowSeconds = () => Math.floor(clock / 1000);

function sign(key: KeyPair, overrides: { exp?: number; iat?: number; sub?: string; jti?: string; iss?: string; aud?: string } = {}) {
  return new SignJWT({ name: 'Mario', sid: 'session-1' })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
    .setSubject(overrides.sub ?? 'user-1')
    .setJti(overrides.jti ?? 'token-1')
    .setIssuer(overrides.iss ?? accessTokenClaims.issuer)
    .setAudience(overrides.aud ?? accessTokenClaims.audience)
    .setIssuedAt(overrides.iat ?? nowSeconds())
    .setExpirationTime(overrides.exp ?? nowSeconds() + 900)
    .sign(key.privateKey);
}

async function whoami(headers: Record<string, string>, payload?: unknown) {
  const response = await app.inject({ method: 'POST', url: '/whoami', headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeEach(async () => {
  clock = Date.UTC(2030, 0, 1);
  published = [await newKey('key-1')];
  keyFetches = 0;
  usersDown = false;
  const users = {
    SigningKeys: async () => {
      keyFetches++;
      if (usersDown) throw new AppError('UNAVAILABLE', 'USER SERVICE unreachable');
      return { keys: published.map((k) => k.publicJwk as Record<string, unknown>) };
    },
  } as unknown as GatewayDeps['users'];
  deps = {
    users,
    sharedState: inMemorySharedState(() => clock),
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: createMetricsRegistry('test', { defaults: false }),
  } as GatewayDeps;
  await buildGateway();
});

async function buildGateway() {
  check = createAuthCheck(deps, { now: () => clock, keyRefetchIntervalMs: 30_000 });
  app = createHttpServer({ logger: deps.logger, metrics: createMetricsRegistry('test-http', { defaults: false }) });
  await app.register(fastifyCookie);
  await app.register(authentication, { check });
  app.post('/whoami', async (request) => request.caller());
  app.post('/maybe', async (request) => ({ caller: (await request.callerIfAny()) ?? null }));
}

describe('request.caller() (AuthCheck.require)', () => {
  it('gives the caller from a valid token in the Bearer header, the body, or the cookie', async () => {
    const token = await sign(published[0]!);
    const expected = { userId: 'user-1', name: 'Mario', tokenId: 'token-1', expiresAt: nowSeconds() + 900, sessionId: 'session-1' };
    expect(await whoami(bearer(token))).toEqual({ status: 200, body: expected });
    expect(await whoami({}, { accessToken: token })).toEqual({ status: 200, body: expected });
    expect(await whoami({ cookie: `other=1; accessToken=${token}` })).toEqual({ status: 200, body: expected });
  });

  it('refuses an expired token, one for another audience or issuer, and a revoked one', async () => {
    const refused = { message: 'failure', error: 'invalid or expired access token', code: 'UNAUTHENTICATED' };
    const key = published[0]!;
    const expiring = await sign(key, { exp: nowSeconds() + 60 });
    expect((await whoami(bearer(expiring))).status).toBe(200);
    clock += 66_000; // past expiry and the 5 s tolerance
    expect(await whoami(bearer(expiring))).toEqual({ status: 401, body: refused });
    expect((await whoami(bearer(await sign(key, { aud: 'someone-else' })))).status).toBe(401);
    expect((await whoami(bearer(await sign(key, { iss: 'someone-else' })))).status).toBe(401);

    const revoked = await sign(key, { jti: 'token-2' });
    await createRevocationList(deps.sharedState, () => clock).revoke('token-2', nowSeconds() + 900);
    expect(await whoami(bearer(revoked))).toEqual({ status: 401, body: refused });
  });

  it('refuses a token that lives longer than the maximum age, however good its signature', async () => {
    const key = published[0]!;
    const tenYears = await sign(key, { exp: nowSeconds() + 10 * 365 * 24 * 3600 });
    expect((await whoami(bearer(tenYears))).status).toBe(401);
    const issuedLongAgo = await sign(key, { iat: nowSeconds() - 2 * 3600, exp: nowSeconds() + 60 });
    expect((await whoami(bearer(issuedLongAgo))).status).toBe(401);
    const noIssuedAt = await new SignJWT({ name: 'Mario', sid: 'session-1' }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).setSubject('user-1').setJti('no-iat')
      .setIssuer(accessTokenClaims.issuer).setAudience(accessTokenClaims.audience).setExpirationTime(nowSeconds() + 900).sign(key.privateKey);
    expect((await whoami(bearer(noIssuedAt))).status).toBe(401);
    expect((await whoami(bearer(await sign(key)))).status).toBe(200);
  });

  it('refuses every token of a revoked session, and only those', async () => {
    const key = published[0]!;
    const older = await sign(key, { jti: 'older' });
    const newer = await sign(key, { jti: 'newer' });
    const otherSession = await new SignJWT({ name: 'Mario', sid: 'session-2' })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).setSubject('user-1').setJti('elsewhere')
      .setIssuer(accessTokenClaims.issuer).setAudience(accessTokenClaims.audience).setIssuedAt(nowSeconds()).setExpirationTime(nowSeconds() + 900).sign(key.privateKey);
    await createRevocationList(deps.sharedState, () => clock).revokeSession('session-1');
    expect((await whoami(bearer(older))).status).toBe(401);
    expect((await whoami(bearer(newer))).status).toBe(401);
    expect((await whoami(bearer(otherSession))).status).toBe(200);
  });

  it('refuses a request without a token', async () => {
    expect((await whoami({})).status).toBe(401);
    expect((await whoami({ authorization: 'Basic abc' })).status).toBe(401);
  });

  it('fetches the keys once, and again (at most once per interval) for an unknown key id', async () => {
    const first = await sign(published[0]!);
    await whoami(bearer(first));
    await whoami(bearer(first));
    // One fetch is two answers that must agree.
    expect(keyFetches).toBe(2);

    // The users service starts signing with a new key: the first token with it triggers one fetch.
    const rotated = await newKey('key-2');
    published.push(rotated);
    clock += 31_000;
    expect((await whoami(bearer(await sign(rotated)))).status).toBe(200);
    expect(keyFetches).toBe(4);

    // A flood of made-up key ids within the interval costs no further fetches.
    const stranger = await newKey('key-unknown');
    for (let i = 0; i < 5; i++) expect((await whoami(bearer(await sign(stranger)))).status).toBe(401);
    expect(keyFetches).toBe(4);
  });

  it('keeps its keys when one answer differs from the next (a rogue or stale instance)', async () => {
    const genuine = await sign(published[0]!);
    expect((await whoami(bearer(genuine))).status).toBe(200);
    // One answer of an attacker's key: the next answer (the real service's) disagrees, so nothing changes.
    const attacker = await newKey('key-attacker');
    const real = published;
    let answers = 0;
    deps.users.SigningKeys = (async () => {
      keyFetches++;
      return { keys: (answers++ % 2 === 0 ? [attacker] : real).map((k) => k.publicJwk as Record<string, unknown>) };
    }) as GatewayDeps['users']['SigningKeys'];
    clock += 31_000;
    expect((await whoami(bearer(await sign(attacker)))).status).toBe(401);
    expect((await whoami(bearer(genuine))).status).toBe(200);
  });

  it('asks for answers signed by the cluster (authenticatedAnswer on every SigningKeys call)', async () => {
    const options: unknown[] = [];
    deps.users.SigningKeys = (async (_input: unknown, callOptions: unknown) => {
      options.push(callOptions);
      return { keys: published.map((k) => k.publicJwk as Record<string, unknown>) };
    }) as GatewayDeps['users']['SigningKeys'];
    await buildGateway();
    expect((await whoami(bearer(await sign(published[0]!)))).status).toBe(200);
    expect(options.length).toBeGreaterThan(0);
    for (const o of options) expect(o).toMatchObject({ authenticatedAnswer: true });
  });

  it('answers 503 (not 401) while it has never been able to get a key, and recovers', async () => {
    usersDown = true;
    await buildGateway(); // its first fetch, at start, fails
    const token = await sign(published[0]!);
    const down = await whoami(bearer(token));
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('UNAVAILABLE');
    usersDown = false;
    clock += 1_500;
    expect((await whoami(bearer(token))).status).toBe(200);
  });
});

describe('request.callerIfAny() (AuthCheck.optional)', () => {
  it('is anonymous without a token or with a bad one, and the caller with a good one', async () => {
    const response = async (headers: Record<string, string>) => (await app.inject({ method: 'POST', url: '/maybe', headers })).json() as { caller: unknown };
    expect(await response({})).toEqual({ caller: null });
    expect(await response(bearer('not.a.token'))).toEqual({ caller: null });
    expect(await response(bearer(await sign(published[0]!)))).toMatchObject({ caller: { userId: 'user-1' } });
  });
});

describe('accessTokenOf', () => {
  it('prefers the Authorization header, then the body, then the cookie', async () => {
    // Cookies as @fastify/cookie parses them.
    const request = (headers: Record<string, string>, cookies: Record<string, string>, body?: unknown) => ({ headers, cookies, body }) as Parameters<typeof accessTokenOf>[0];
    expect(accessTokenOf(request({ authorization: 'Bearer h' }, { accessToken: 'c' }, { accessToken: 'b' }))).toBe('h');
    expect(accessTokenOf(request({}, { accessToken: 'c' }, { accessToken: 'b' }))).toBe('b');
    expect(accessTokenOf(request({}, { accessToken: 'c' }))).toBe('c');
    expect(accessTokenOf(request({}, { accessToken: '' }, { accessToken: '' }))).toBeUndefined();
    expect(accessTokenOf(request({}, {}))).toBeUndefined();
  });
});

describe('the authentication plugin', () => {
  it('needs @fastify/cookie, since the token may come in a cookie', async () => {
    const bare = createHttpServer({ logger: deps.logger, metrics: createMetricsRegistry('bare', { defaults: false }) });
    await expect(bare.register(authentication, { check })).rejects.toThrow(/@fastify\/cookie/);
  });
});
