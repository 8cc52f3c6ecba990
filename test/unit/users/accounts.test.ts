import { fixedSigningKeys } from '../../../src/users/signing-keys.js';
import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/platform/errors.js';
import { systemClock } from '../../../src/platform/clock.js';
import { accountErrors, isValidName, isValidPassword, login, logout, refresh, register, type AccountsDeps } from '../../../src/users/accounts.js';
import { memoryUsersRepository } from '../../fakes/memory-users.repository.js';
import { Registry } from 'prom-client';
import { usersHandlers } from '../../../src/users/handlers.js';
import { createLogger } from '../../../src/platform/log.js';
import type { RpcContext } from '../../../src/platform/rpc/server.js';
import { manualClock, settle } from '../../fakes/manual-clock.js';
import { createPasswordHasher, scryptCost, type PasswordHasher } from '../../../src/users/passwords.js';
import { generateSigningKeyMaterial, loadSigningKey } from '../../../src/users/tokens.js';

let clock = Date.UTC(2030, 0, 1);
let deps: AccountsDeps;

/** Counts the hashes done, to show an unknown user costs the same work as a wrong password. */
function countingHasher(inner: PasswordHasher) {
  const counter = { verifications: 0 };
  const hasher: PasswordHasher = { cost: inner.cost, hash: inner.hash, verify: (p, s) => (counter.verifications++, inner.verify(p, s)) };
  return { hasher, counter };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

beforeEach(async () => {
  clock = Date.UTC(2030, 0, 1);
  deps = {
    repo: memoryUsersRepository(),
    hasher: createPasswordHasher(scryptCost(10)),
    signingKeys: fixedSigningKeys(await loadSigningKey(await generateSigningKeyMaterial())),
    clock: { ...systemClock, now: () => clock },
    accessTokenTtlSeconds: 900,
    refreshTokenTtlSeconds: 3600,
  };
});

describe('names and passwords', () => {
  it('a name is 3-32 letters, digits, _ . -; a password 8-128 characters', () => {
    for (const name of ['abc', 'Mario', 'a.b-c_d', '0'.repeat(32)]) expect(isValidName(name), name).toBe(true);
    for (const name of ['', 'ab', 'a'.repeat(33), 'ma rio', 'mário', 'a/b', 'a\nb']) expect(isValidName(name), name).toBe(false);
    expect(isValidPassword('x'.repeat(8))).toBe(true);
    expect(isValidPassword('x'.repeat(128))).toBe(true);
    expect(isValidPassword('x'.repeat(7))).toBe(false);
    expect(isValidPassword('x'.repeat(129))).toBe(false);
  });
});

describe('register', () => {
  it('refuses invalid input and an existing name with the original texts', async () => {
    expect(await failure(register(deps, 'ab', 'long enough'))).toMatchObject({ code: 'INVALID_ARGUMENT', message: accountErrors.invalidCredentials });
    await register(deps, 'Mario', 'long enough');
    expect(await failure(register(deps, 'Mario', 'other password'))).toMatchObject({ code: 'CONFLICT', message: 'existing username' });
  });

  it('refuses weak passwords: a common one, only spaces, the name itself', async () => {
    for (const [name, password] of [['Mario', '12345678'], ['Mario', '        '], ['Mario', 'password'], ['mario_42', 'mario_42'], ['Mario_42', 'mario_42'], ['Luigi', 'qwertyuiop'], ['Peach', '9'.repeat(128)]]) {
      expect(await failure(register(deps, name!, password!)), password).toMatchObject({ code: 'INVALID_ARGUMENT', details: { reason: 'weak-password' } });
    }
    expect(await register(deps, 'Mario', 'galleries on sunday')).toHaveProperty('userId');
  });

  it('takes names case-insensitively: "Alice" and "alice" are one person, who logs in either way', async () => {
    await register(deps, 'Alice', 'galleries on sunday');
    expect(await failure(register(deps, 'alice', 'brushes and paper'))).toMatchObject({ code: 'CONFLICT' });
    expect((await login(deps, 'ALICE', 'galleries on sunday')).name).toBe('Alice');
  });

  it('a sign-up re-run under the same user id (its connection was cut after the insert) succeeds; another sign-up of the name does not', async () => {
    const first = await register(deps, 'Luigi', 'galleries on sunday', '00000000-0000-4000-8000-000000000001');
    expect(await register(deps, 'Luigi', 'galleries on sunday', '00000000-0000-4000-8000-000000000001')).toEqual(first);
    expect(await failure(register(deps, 'Luigi', 'galleries on sunday', '00000000-0000-4000-8000-000000000002'))).toMatchObject({ code: 'CONFLICT' });
  });

  it('concurrent sign-ups with one name create one account', async () => {
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => register(deps, 'Peach', 'long enough')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('sessions per user', () => {
  it('a login past the limit ends the oldest sessions, and only those', async () => {
    deps.maxSessionsPerUser = 3;
    await register(deps, 'Mario', 'its-a-me-mario');
    const pairs = [];
    for (let i = 0; i < 5; i++) {
      pairs.push(await login(deps, 'Mario', 'its-a-me-mario'));
      clock += 1_000;
    }
    for (const pair of pairs.slice(0, 2)) expect(await failure(refresh(deps, pair.refreshToken))).toMatchObject({ code: 'UNAUTHENTICATED' });
    for (const pair of pairs.slice(2)) expect(await refresh(deps, pair.refreshToken)).toHaveProperty('accessToken');
  });
});

describe('login', () => {
  it('gives up waiting for the hasher at the caller\'s deadline', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const manual = manualClock(clock);
    let handed: AbortSignal | undefined;
    // A hasher with a long queue: it answers only when the signal it was handed aborts.
    deps = {
      ...deps,
      clock: manual,
      hasher: {
        ...deps.hasher,
        verify: (_password, _stored, signal) => new Promise((_resolve, reject) => {
          handed = signal;
          signal?.addEventListener('abort', () => reject(signal.reason as Error));
        }),
      },
    };
    const attempt = failure(login(deps, 'Mario', 'its-a-me-mario', { deadline: manual.now() + 6_000 }));
    await settle();
    expect(handed?.aborted).toBe(false);
    manual.advance(5_999);
    expect(handed?.aborted).toBe(false);
    manual.advance(1);
    expect(await attempt).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(manual.pendingTimers).toBe(0);
  });

  it('gets the deadline of the RPC it serves: sign-up and login hashes are dropped when the caller stops waiting', async () => {
    const manual = manualClock(clock);
    const handed: Record<string, AbortSignal | undefined> = {};
    const waitForAbort = (call: string, signal: AbortSignal | undefined) => new Promise<never>((_resolve, reject) => {
      handed[call] = signal;
      signal?.addEventListener('abort', () => reject(signal.reason as Error));
    });
    await register(deps, 'Mario', 'its-a-me-mario');
    const handlers = usersHandlers({ ...deps, clock: manual, hasher: { ...deps.hasher, hash: (_p, signal) => waitForAbort('sign-up', signal), verify: (_p, _s, signal) => waitForAbort('login', signal) } }, 100, new Registry());
    const context = (timeoutMs: number) => ({ requestId: 'r', deadline: manual.now() + timeoutMs, idempotencyKey: undefined, log: createLogger({ name: 'users-test', level: 'silent' }), caller: { service: 'GATEWAY', instance: 'gateway-1', expiresAt: 0 }, user: undefined }) as RpcContext;
    const signUp = failure(handlers.Register({ name: 'Luigi', password: 'green-plumber-1983' }, context(14_000)));
    const logIn = failure(handlers.Login({ name: 'Mario', password: 'its-a-me-mario' }, context(6_000)));
    await settle();
    expect({ signUp: handed['sign-up']?.aborted, logIn: handed.login?.aborted }).toEqual({ signUp: false, logIn: false });
    manual.advance(6_000);
    expect(await logIn).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(handed['sign-up']!.aborted).toBe(false);
    manual.advance(8_000);
    expect(await signUp).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });

  it('returns a token pair for the right password', async () => {
    const { userId } = await register(deps, 'Mario', 'its-a-me-mario');
    const pair = await login(deps, 'Mario', 'its-a-me-mario');
    expect(pair).toMatchObject({ userId, name: 'Mario', accessExpiresAt: clock / 1000 + 900, refreshExpiresAt: clock / 1000 + 3600 });
    expect(decodeJwt(pair.accessToken)).toMatchObject({ sub: userId, name: 'Mario' });
  });

  it('answers a wrong password and an unknown name alike, each after one hash', async () => {
    const { hasher, counter } = countingHasher(deps.hasher);
    deps.hasher = hasher;
    await register(deps, 'Mario', 'its-a-me-mario');
    const wrongPassword = await failure(login(deps, 'Mario', 'its-a-me-luigi'));
    expect(counter.verifications).toBe(1);
    const unknownName = await failure(login(deps, 'Wario', 'its-a-me-mario'));
    expect(counter.verifications).toBe(2);
    for (const error of [wrongPassword, unknownName]) expect(error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Your login or password is not correct' });
  });

  it('re-hashes a password stored with an older cost on the next login', async () => {
    const { userId } = await register(deps, 'Mario', 'its-a-me-mario');
    deps.hasher = createPasswordHasher(scryptCost(11));
    await login(deps, 'Mario', 'its-a-me-mario');
    expect((await deps.repo.findUserById(userId))?.passwordHash).toMatch(/^\$scrypt\$ln=11,/);
  });
});

describe('refresh', () => {
  it('rotates within the family, and a reused token revokes the family', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const first = await login(deps, 'Mario', 'its-a-me-mario');
    const second = await refresh(deps, first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(decodeJwt(second.accessToken).sid).toBe(decodeJwt(first.accessToken).sid);
    const sessionId = decodeJwt(first.accessToken).sid;
    expect(await failure(refresh(deps, first.refreshToken))).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'reused', sessionId } });
    expect(await failure(refresh(deps, second.refreshToken))).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'revoked' } });
  });

  it('refuses an expired or unknown token', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const pair = await login(deps, 'Mario', 'its-a-me-mario');
    expect(await failure(refresh(deps, 'no-such-token'))).toMatchObject({ details: { reason: 'unknown' } });
    clock += 3600 * 1000;
    expect(await failure(refresh(deps, pair.refreshToken))).toMatchObject({ message: accountErrors.invalidRefreshToken, details: { reason: 'expired' } });
  });

  it('a login forgets the user\'s expired refresh tokens', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const old = await login(deps, 'Mario', 'its-a-me-mario');
    clock += 3601 * 1000;
    await login(deps, 'Mario', 'its-a-me-mario');
    expect(await failure(refresh(deps, old.refreshToken))).toMatchObject({ details: { reason: 'unknown' } });
  });

  it('leaves other sessions of the same user alone', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const phone = await login(deps, 'Mario', 'its-a-me-mario');
    const laptop = await login(deps, 'Mario', 'its-a-me-mario');
    await refresh(deps, phone.refreshToken);
    await failure(refresh(deps, phone.refreshToken));
    await expect(refresh(deps, laptop.refreshToken)).resolves.toMatchObject({ name: 'Mario' });
  });
});

describe('logout', () => {
  it('revokes the session named by the access token, not the others', async () => {
    const { userId } = await register(deps, 'Mario', 'its-a-me-mario');
    const phone = await login(deps, 'Mario', 'its-a-me-mario');
    const laptop = await login(deps, 'Mario', 'its-a-me-mario');
    await logout(deps, { userId, sessionId: decodeJwt(phone.accessToken).sid as string });
    await failure(refresh(deps, phone.refreshToken));
    await expect(refresh(deps, laptop.refreshToken)).resolves.toBeDefined();
  });

  it('does not revoke another user\'s session', async () => {
    await register(deps, 'Mario', 'its-a-me-mario');
    const { userId: luigi } = await register(deps, 'Luigi', 'its-a-me-luigi');
    const mario = await login(deps, 'Mario', 'its-a-me-mario');
    await logout(deps, { userId: luigi, refreshToken: mario.refreshToken });
    await expect(refresh(deps, mario.refreshToken)).resolves.toBeDefined();
  });
});
