import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersContract } from '../../src/contracts/users.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { createRpcClient, fixedTransport, type RpcTransport } from '../../src/platform/rpc/client.js';
import { buildUsersApp } from '../../src/users/app.js';
import { usersConfigSchema } from '../../src/users/config.js';
import { gatewayConfigSchema } from '../../src/gateway/config.js';
import type { FastifyRequest } from 'fastify';
import { createAuthCheck } from '../../src/gateway/auth-check.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import type { GatewayDeps } from '../../src/gateway/deps.js';
import type { SharedState } from '../../src/gateway/shared-state.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import type { CacheRing } from '../../src/platform/cache/index.js';
import { integrationPostgres, integrationRedisSpec } from '../harness/context.js';
import { cacheRingSharedState, startStack, type Stack } from '../harness/stack.js';
import { apiClient, type ApiClient, type ApiReply } from '../support/api-client.js';
import { testClusterSecret, testCredentials, trustedTestTransport } from '../support/credentials.js';

// Sign-up, login, refresh, logout and the auth check through gateway workers, against a real
// users service on a real PostgreSQL and gateway state in the real cache ring (four Redis
// nodes). Two gateway workers, each with its own ring client, as the Node cluster's workers.

const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

/** A gateway worker's own client of the real cache ring (the integration tier's four Redis nodes). */
function cacheRingState(prefix: string): SharedState {
  const { state, ring } = cacheRingSharedState(integrationRedisSpec(), prefix);
  rings.push(ring);
  return state;
}

interface Worker {
  url: string;
  app: FastifyInstance;
  deps: GatewayDeps;
  /** The public API client speaking to this worker. */
  client: ApiClient;
}

let usersApp: FastifyInstance;
let usersUrl: string;
const rings: CacheRing[] = [];
const transports: RpcTransport[] = [];
const workers: Worker[] = [];
let gatewayA: Worker;
let gatewayB: Worker;

/** A gateway worker (the whole app) plus test-only routes that need a caller. */
async function startGatewayWorker(name: string, statePrefix: string): Promise<Worker> {
  const transport = trustedTestTransport(usersUrl);
  transports.push(transport);
  const unused = fixedTransport('http://127.0.0.1:9', { credentials: testCredentials() });
  transports.push(unused);
  const logger = createLogger({ name, level: 'debug', destination: sink });
  const deps: GatewayDeps = {
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: name, GATEWAY_WORKERS: '1' }),
    logger,
    metrics: createMetricsRegistry(name, { defaults: false }),
    users: createRpcClient(usersContract, transport),
    images: createRpcClient(imagesContract, unused),
    recommendations: createRpcClient(recommendationsContract, unused),
    sharedState: cacheRingState(statePrefix),
  };
  const app = await buildGatewayApp(deps);
  const whoami = async (caller: Promise<{ userId: string; name: string }>) => {
    const { userId, name: callerName } = await caller;
    return { userId, name: callerName };
  };
  app.post('/test/whoami', (req: FastifyRequest) => whoami(req.caller()));
  // The same check with a clock 16 minutes ahead: a token issued now has expired there.
  const later = createAuthCheck(deps, { now: () => Date.now() + 16 * 60_000 });
  app.post('/test/whoami-later', (req: FastifyRequest) => whoami(later.require(req)));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const worker = { url, app, deps, client: apiClient(url) };
  workers.push(worker);
  return worker;
}

const uniqueName = (base: string) => `${base}_${randomBytes(4).toString('hex')}`;
const password = 'correct horse battery';

/** A fresh account, signed up and logged in through `worker` (gateway A by default). */
const signUpAndLogIn = (worker: Worker = gatewayA) => worker.client.newAccount('user', password);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  const databaseUrl = await integrationPostgres().createDatabase('users_auth');
  usersApp = await buildUsersApp({
    config: loadConfig(usersConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'users-1', DATABASE_URL: databaseUrl }),
    logger: createLogger({ name: 'users-1', level: 'debug', destination: sink }),
    metrics: createMetricsRegistry('users-1', { defaults: false }),
  });
  usersUrl = await usersApp.listen({ host: '127.0.0.1', port: 0 });
  const prefix = `authtest:${randomBytes(4).toString('hex')}:`;
  gatewayA = await startGatewayWorker('gateway-w1', prefix);
  gatewayB = await startGatewayWorker('gateway-w2', prefix);
});

afterAll(async () => {
  for (const worker of workers) {
    await worker.client.close();
    await worker.app.close();
  }
  await usersApp?.close();
  await Promise.allSettled(transports.map((t) => t.close?.()));
  await Promise.allSettled(rings.map((ring) => ring.close()));
});

describe('POST /signup', () => {
  it('answers 201 with the original success shape', async () => {
    const reply = await gatewayA.client.request('POST', '/signup', { json: { name: uniqueName('mario'), password } });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ message: 'success', error: '' });
  });

  it.each([
    ['a missing body field', { name: 'Mario' }],
    ['an empty name', { name: '', password }],
    ['a two-character name', { name: 'ab', password }],
    ['a 33-character name', { name: 'a'.repeat(33), password }],
    ['a name with a space', { name: 'ma rio', password }],
    ['a seven-character password', { name: 'Mario_ok', password: 'x'.repeat(7) }],
    ['a 129-character password', { name: 'Mario_ok', password: 'x'.repeat(129) }],
    ['a password that is not a string', { name: 'Mario_ok', password: 12345678 }],
  ])('refuses %s with the original error text', async (_what, json) => {
    const reply = await gatewayA.client.request('POST', '/signup', { json });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ message: 'failure', error: 'empty/invalid name and/or password', code: 'INVALID_ARGUMENT' });
  });

  it('accepts names at the limits: 3 and 32 characters of letters, digits, _ . -', async () => {
    for (const name of [`a.${randomBytes(1).toString('hex').slice(0, 1)}`, `A-_.${randomBytes(14).toString('hex')}`]) {
      const reply = await gatewayA.client.request('POST', '/signup', { json: { name, password: 'k3#vQ!9z' } });
      expect(reply.status, name).toBe(201);
    }
  });

  it('refuses an existing name with the original error text; names are case-insensitive', async () => {
    const name = uniqueName('Luigi');
    expect((await gatewayA.client.request('POST', '/signup', { json: { name, password } })).status).toBe(201);
    const again = await gatewayA.client.request('POST', '/signup', { json: { name, password: 'another password' } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: 'failure', error: 'existing username', code: 'CONFLICT' });
    expect((await gatewayA.client.request('POST', '/signup', { json: { name: name.toLowerCase(), password } })).status).toBe(409);
  });

  it('twenty concurrent sign-ups with one name create exactly one account', async () => {
    const name = uniqueName('race');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? gatewayA : gatewayB).client.signUp(name, `galleries on sunday ${i}`)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = replies.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(19);
    for (const reply of refused) expect(reply.body).toEqual({ message: 'failure', error: 'existing username', code: 'CONFLICT' });
    // Exactly the winner's password logs in.
    const winner = replies.findIndex((r) => r.status === 201);
    expect((await gatewayA.client.request('POST', '/login', { json: { name, password: `galleries on sunday ${winner}` } })).status).toBe(200);
  });
});

describe('POST /login', () => {
  it('answers 200 with both tokens in the body and as HttpOnly, SameSite=Lax cookies', async () => {
    const { accessToken, refreshToken, login } = await signUpAndLogIn();
    expect(Object.keys(login.body).sort()).toEqual(['accessToken', 'error', 'refreshToken']);
    expect(login.body.error).toBe('');
    expect(accessToken.split('.')).toHaveLength(3);
    expect(refreshToken.length).toBeGreaterThanOrEqual(40);
    const access = login.cookies.find((c) => c.startsWith('accessToken='));
    const refresh = login.cookies.find((c) => c.startsWith('refreshToken='));
    expect(access).toContain(`accessToken=${accessToken}`);
    expect(refresh).toContain(`refreshToken=${refreshToken}`);
    for (const cookie of [access, refresh]) {
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);
    }
    expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg: 'EdDSA' });
  });

  it('answers a wrong password and an unknown name alike, with the original text', async () => {
    const { name } = await signUpAndLogIn();
    for (const json of [{ name, password: 'wrong password' }, { name: uniqueName('nobody'), password }, { name: '', password: '' }]) {
      const reply = await gatewayA.client.request('POST', '/login', { json });
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ accessToken: '', refreshToken: '', error: 'Your login or password is not correct', code: 'UNAUTHENTICATED' });
      expect(reply.cookies).toEqual([]);
    }
  });

  it('takes about as long for an unknown name as for a wrong password', async () => {
    const { name } = await signUpAndLogIn();
    const timeOf = async (json: unknown) => {
      const started = performance.now();
      await gatewayA.client.request('POST', '/login', { json });
      return performance.now() - started;
    };
    const wrongPassword: number[] = [];
    const unknownName: number[] = [];
    for (let i = 0; i < 4; i++) {
      wrongPassword.push(await timeOf({ name, password: `wrong-${i}-password` }));
      unknownName.push(await timeOf({ name: uniqueName('ghost'), password: `wrong-${i}-password` }));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Both pay one scrypt hash (tens of ms); an unknown name that skipped it would answer in ~1 ms.
    expect(median(unknownName)).toBeGreaterThan(median(wrongPassword) / 3);
    expect(median(unknownName)).toBeLessThan(median(wrongPassword) * 3);
  });
});

describe('the auth check', () => {
  it('accepts a valid token from the cookie, Authorization: Bearer, and the body field', async () => {
    const { name, accessToken } = await signUpAndLogIn();
    const viaCookie = await gatewayB.client.request('POST', '/test/whoami', { headers: { cookie: `accessToken=${accessToken}` } });
    const viaBearer = await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(accessToken) });
    const viaBody = await gatewayB.client.request('POST', '/test/whoami', { json: { accessToken } });
    for (const reply of [viaCookie, viaBearer, viaBody]) {
      expect(reply.status).toBe(200);
      expect(reply.body.name).toBe(name);
    }
  });

  const refused = { message: 'failure', error: 'invalid or expired access token', code: 'UNAUTHENTICATED' };

  it('refuses a request without a token', async () => {
    const reply = await gatewayA.client.request('POST', '/test/whoami');
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual(refused);
  });

  it('refuses tampered, expired, alg:none, HS256 and wrong-key tokens', async () => {
    const { accessToken } = await signUpAndLogIn();
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const { kid } = decodeProtectedHeader(accessToken);

    const tampered = `${header}.${encode({ ...claims, name: 'admin' })}.${signature}`;
    const algNone = `${encode({ alg: 'none', kid, typ: 'JWT' })}.${payload}.`;
    const otherKey = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const sign = (key: Parameters<SignJWT['sign']>[0], protectedHeader: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', ...protectedHeader }).sign(key);
    const wrongKeySameKid = await sign(otherKey.privateKey, { kid });
    const wrongKeyUnknownKid = await sign(otherKey.privateKey, { kid: 'not-a-known-key' });
    // Algorithm confusion: an HMAC "signed" with bytes an attacker might guess.
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(String(kid)));

    for (const [what, token] of Object.entries({ tampered, algNone, wrongKeySameKid, wrongKeyUnknownKid, hs256, garbage: 'not.a.token' })) {
      const reply = await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(token) });
      expect(reply.status, what).toBe(401);
      expect(reply.body, what).toEqual(refused);
    }
    const expired = await gatewayB.client.request('POST', '/test/whoami-later', { headers: bearer(accessToken) });
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual(refused);
    // The genuine token still passes.
    expect((await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(accessToken) })).status).toBe(200);
  });
});

describe('POST /refresh', () => {
  it('rotates: a new pair in the body and cookies; the old refresh token is used up', async () => {
    const { refreshToken } = await signUpAndLogIn();
    const first = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken } });
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(['accessToken', 'error', 'refreshToken']);
    expect(first.body.error).toBe('');
    expect(first.body.refreshToken).not.toBe(refreshToken);
    expect(first.cookies.some((c) => c.startsWith(`refreshToken=${first.body.refreshToken as string}`))).toBe(true);
    // The refresh token may also come from the cookie.
    const second = await gatewayB.client.request('POST', '/refresh', { headers: { cookie: `refreshToken=${first.body.refreshToken as string}` } });
    expect(second.status).toBe(200);
    expect((await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(second.body.accessToken as string) })).status).toBe(200);
  });

  it('reusing a rotated token gets 401 and revokes the whole family', async () => {
    const { refreshToken: original } = await signUpAndLogIn();
    const rotated = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: original } });
    expect(rotated.status).toBe(200);
    const reuse = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: original } });
    expect(reuse.status).toBe(401);
    expect(reuse.body).toEqual({ accessToken: '', refreshToken: '', error: 'invalid or expired refresh token', code: 'UNAUTHENTICATED' });
    // The legitimate successor is burned too, and the session's access tokens are refused at once.
    const successor = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: rotated.body.refreshToken } });
    expect(successor.status).toBe(401);
    expect((await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(rotated.body.accessToken as string) })).status).toBe(401);
  });

  it('refuses a missing or unknown refresh token', async () => {
    for (const options of [{}, { json: { refreshToken: 'made-up' } }]) {
      const reply = await gatewayA.client.request('POST', '/refresh', options);
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ accessToken: '', refreshToken: '', error: 'invalid or expired refresh token', code: 'UNAUTHENTICATED' });
    }
  });
});

describe('POST /logout', () => {
  it('answers the success shape, clears the cookies, and revokes at once on every worker', async () => {
    const { accessToken, refreshToken } = await signUpAndLogIn();
    const reply = await gatewayA.client.request('POST', '/logout', { headers: { cookie: `accessToken=${accessToken}; refreshToken=${refreshToken}` } });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ message: 'success', error: '' });
    expect(reply.cookies.some((c) => /^accessToken=;/.test(c))).toBe(true);
    expect(reply.cookies.some((c) => /^refreshToken=;/.test(c))).toBe(true);
    // Worker B never saw the logout: the revocation list lives in the shared state.
    const afterwards = await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(accessToken) });
    expect(afterwards.status).toBe(401);
    expect(afterwards.body).toEqual({ message: 'failure', error: 'invalid or expired access token', code: 'UNAUTHENTICATED' });
    expect((await gatewayB.client.request('POST', '/refresh', { json: { refreshToken } })).status).toBe(401);
  });

  it('revokes the whole session of the access token, even without the refresh token', async () => {
    const { accessToken, refreshToken } = await signUpAndLogIn();
    const rotated = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken } });
    expect((await gatewayA.client.request('POST', '/logout', { headers: bearer(rotated.body.accessToken as string) })).status).toBe(200);
    expect((await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: rotated.body.refreshToken } })).status).toBe(401);
    // The session's earlier access token is refused too.
    expect((await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(accessToken) })).status).toBe(401);
  });

  it('leaves the user\'s other sessions alone', async () => {
    const { name, accessToken } = await signUpAndLogIn();
    const other = await gatewayA.client.request('POST', '/login', { json: { name, password } });
    expect((await gatewayA.client.request('POST', '/logout', { headers: bearer(accessToken) })).status).toBe(200);
    expect((await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(other.body.accessToken as string) })).status).toBe(200);
    expect((await gatewayB.client.request('POST', '/refresh', { json: { refreshToken: other.body.refreshToken } })).status).toBe(200);
  });

  it('needs a valid access token', async () => {
    const reply = await gatewayA.client.request('POST', '/logout');
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ message: 'failure', error: 'invalid or expired access token', code: 'UNAUTHENTICATED' });
  });
});

describe('login rate limits', () => {
  it('answers 429 with Retry-After after ten failed logins for one name, even with the right password', async () => {
    const worker = await startGatewayWorker('gateway-limits-1', `authtest:${randomBytes(4).toString('hex')}:`);
    const { name } = await signUpAndLogIn(worker);
    for (let i = 0; i < 10; i++) expect((await worker.client.request('POST', '/login', { json: { name, password: `nope-${i}-nope` } })).status).toBe(401);
    const limited = await worker.client.request('POST', '/login', { json: { name, password } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toEqual({ accessToken: '', refreshToken: '', error: 'too many failed logins; try again later', code: 'RATE_LIMITED' });
  });

  it('answers 429 after thirty failed logins from one address across names', async () => {
    const worker = await startGatewayWorker('gateway-limits-2', `authtest:${randomBytes(4).toString('hex')}:`);
    const { name } = await signUpAndLogIn(worker);
    const failures = await Promise.all(Array.from({ length: 30 }, (_, i) => worker.client.request('POST', '/login', { json: { name: uniqueName(`guess${i}`), password } })));
    expect(failures.every((r) => r.status === 401)).toBe(true);
    const limited = await worker.client.request('POST', '/login', { json: { name, password } });
    expect(limited.status).toBe(429);
  });
});

describe('secrets', () => {
  it('no password or token appears in any log line or error body', async () => {
    const secretPassword = `s3cret-${randomBytes(6).toString('hex')}`;
    const name = uniqueName('quiet');
    const bodies: string[] = [];
    const record = (reply: ApiReply) => {
      bodies.push(JSON.stringify(reply.body));
      return reply;
    };
    const from = logLines.length;
    record(await gatewayA.client.request('POST', '/signup', { json: { name, password: secretPassword } }));
    record(await gatewayA.client.request('POST', '/signup', { json: { name, password: secretPassword } }));
    record(await gatewayA.client.request('POST', '/login', { json: { name, password: `${secretPassword}-wrong` } }));
    const login = await gatewayA.client.request('POST', '/login', { json: { name, password: secretPassword } });
    const refreshed = await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: login.body.refreshToken } });
    const tampered = `${refreshed.body.accessToken as string}x`;
    record(await gatewayB.client.request('POST', '/test/whoami', { headers: bearer(tampered) }));
    record(await gatewayB.client.request('POST', '/logout', { headers: { cookie: `accessToken=${refreshed.body.accessToken as string}; refreshToken=${refreshed.body.refreshToken as string}` } }));
    record(await gatewayB.client.request('POST', '/logout', { json: { accessToken: refreshed.body.accessToken } }));
    record(await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: login.body.refreshToken } }));
    // A reuse inside a live session (it warns, with the session id).
    const second = await gatewayA.client.request('POST', '/login', { json: { name, password: secretPassword } });
    await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: second.body.refreshToken } });
    record(await gatewayA.client.request('POST', '/refresh', { json: { refreshToken: second.body.refreshToken } }));

    const secrets = [secretPassword, login.body.accessToken, login.body.refreshToken, refreshed.body.accessToken, refreshed.body.refreshToken, tampered, second.body.accessToken, second.body.refreshToken]
      .map(String);
    // Token signatures alone, too: a log line with a token cut in pieces still leaks it.
    secrets.push(...secrets.filter((s) => s.split('.').length === 3).map((s) => s.split('.')[2]!).filter((s) => s.length > 20));
    const lines = logLines.slice(from);
    // The flows did log (so the check below is not vacuous).
    for (const event of ['account created', 'register refused', 'login refused', 'logged in', 'refresh refused', 'access token refused', 'logged out; access token revoked', 'refresh token reused; session revoked']) {
      expect(lines.some((line) => line.includes(event)), event).toBe(true);
    }
    for (const secret of secrets) {
      for (const line of [...lines, ...bodies]) expect(line.includes(secret), `leaked in: ${line.slice(0, 200)}`).toBe(false);
    }
  });
});

describe('in the whole gateway app (startStack: every route module, every service)', () => {
  let stack: Stack;
  let worker: Worker;
  beforeAll(async () => {
    stack = await startStack({ env: { users: { SCRYPT_LOG2_COST: '12' } } });
    worker = { url: stack.gatewayUrl, app: stack.gateway.app, deps: undefined as unknown as GatewayDeps, client: apiClient(stack.gatewayUrl) };
  });
  afterAll(async () => {
    await worker?.client.close();
    await stack?.stop();
  });

  it('signs up, logs in, refreshes and logs out in the original shapes', async () => {
    const name = uniqueName('stack');
    expect(await worker.client.request('POST', '/signup', { json: { name, password } })).toMatchObject({ status: 201, body: { message: 'success', error: '' } });
    expect(await worker.client.request('POST', '/signup', { json: { name, password } })).toMatchObject({ status: 409, body: { message: 'failure', error: 'existing username', code: 'CONFLICT' } });
    expect(await worker.client.request('POST', '/login', { json: { name, password: 'not the password' } }))
      .toMatchObject({ status: 401, body: { accessToken: '', refreshToken: '', error: 'Your login or password is not correct', code: 'UNAUTHENTICATED' } });
    const login = await worker.client.request('POST', '/login', { json: { name, password } });
    expect(login.status).toBe(200);
    const refreshed = await worker.client.request('POST', '/refresh', { headers: { cookie: `refreshToken=${login.body.refreshToken as string}` } });
    expect(refreshed.status).toBe(200);
    const logout = await worker.client.request('POST', '/logout', { headers: { cookie: `accessToken=${refreshed.body.accessToken as string}` } });
    expect(logout).toMatchObject({ status: 200, body: { message: 'success', error: '' } });
    expect((await worker.client.request('POST', '/logout', { headers: bearer(refreshed.body.accessToken as string) })).status).toBe(401);
  });
});
