import { randomUUID } from 'node:crypto';
import { limits, patterns } from '../contracts/limits.js';
import { invalidCredentialsMessage, type TokenPair } from '../contracts/users.js';
import { AppError, conflict, invalidArgument, unauthenticated } from '../platform/errors.js';
import { passwordWeakness } from './password-strength.js';
import { needsRehash, type PasswordHasher } from './passwords.js';
import { issueAccessToken, newRefreshToken, refreshTokenDigest } from './tokens.js';
import type { SigningKeys } from './signing-keys.js';
import type { UsersRepository } from './users.repository.js';
import type { Clock } from '../platform/clock.js';

// Accounts and sessions: sign-up, login, refresh with rotation and reuse detection, logout.

/** The original contract's error texts, verbatim (docs/departures.md). */
export const accountErrors = {
  invalidCredentials: invalidCredentialsMessage,
  existingUsername: 'existing username',
  loginFailed: 'Your login or password is not correct',
  invalidRefreshToken: 'invalid or expired refresh token',
} as const;

export const passwordLength = { min: limits.account.passwordMin, max: limits.account.passwordMax } as const;

export function isValidName(name: string): boolean {
  return patterns.accountName.test(name);
}

export function isValidPassword(password: string): boolean {
  return password.length >= passwordLength.min && password.length <= passwordLength.max;
}

export interface AccountsDeps {
  repo: UsersRepository;
  hasher: PasswordHasher;
  /** The newest key signs; rotation replaces it under us (signing-keys.ts). */
  signingKeys: SigningKeys;
  clock: Clock;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Live sessions a user may have; a login past it ends the oldest ones. */
  maxSessionsPerUser?: number;
}

export const defaultMaxSessionsPerUser = 20;

/** Who asked, for how long: `deadline` (epoch ms, the RPC's) is when the caller stops waiting. */
export interface AccountCall {
  deadline?: number;
}

/**
 * Runs `work` with a signal that aborts at the caller's deadline: a password hash still waiting
 * for the hasher then is dropped instead of computed for nobody, so a burst of logins whose callers
 * gave up does not keep the hasher busy (and later logins waiting) long after.
 */
async function withinDeadline<T>(clock: Clock, { deadline }: AccountCall, work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (deadline === undefined) return work(undefined);
  const stopped = new AbortController();
  const timer = clock.setTimeout(
    () => stopped.abort(new AppError('DEADLINE_EXCEEDED', 'the caller stopped waiting before the password was checked')),
    Math.max(0, deadline - clock.now()),
  );
  try {
    return await work(stopped.signal);
  } finally {
    clock.clearTimeout(timer);
  }
}

/**
 * Creates an account under `userId`. Called again with the same id (a re-run after the
 * database connection was cut mid-insert), it recognises the account it already created.
 */
export async function register(deps: AccountsDeps, name: string, password: string, userId: string = randomUUID(), call: AccountCall = {}): Promise<{ userId: string }> {
  if (!isValidName(name) || !isValidPassword(password)) throw invalidArgument(accountErrors.invalidCredentials);
  const weakness = passwordWeakness(password, name);
  if (weakness) throw invalidArgument(weakness, { details: { reason: 'weak-password' } });
  // A cheap look first spares a hash for the common case; the unique constraint still decides races.
  const existing = await deps.repo.findUserByName(name);
  if (existing) {
    if (existing.id === userId) return { userId };
    throw conflict(accountErrors.existingUsername);
  }
  const passwordHash = await withinDeadline(deps.clock, call, (signal) => deps.hasher.hash(password, signal));
  const created = await deps.repo.insertUser({ id: userId, name, passwordHash });
  if (!created) {
    if ((await deps.repo.findUserByName(name))?.id === userId) return { userId };
    throw conflict(accountErrors.existingUsername);
  }
  return { userId };
}

export async function login(deps: AccountsDeps, name: string, password: string, call: AccountCall = {}): Promise<TokenPair> {
  // Over-long input is refused before hashing (it would only cost us CPU); everything else pays one
  // hash, against a dummy when the name is unknown, so wrong name and wrong password look alike.
  if (name.length > limits.account.loginNameMax || password.length > passwordLength.max) throw unauthenticated(accountErrors.loginFailed);
  const user = await deps.repo.findUserByName(name);
  const matches = await withinDeadline(deps.clock, call, (signal) => deps.hasher.verify(password, user?.passwordHash, signal));
  if (!user || !matches) throw unauthenticated(accountErrors.loginFailed);
  if (needsRehash(user.passwordHash, deps.hasher.cost)) {
    await deps.repo.updatePasswordHash(user.id, await deps.hasher.hash(password));
  }
  // Each login tidies the user's expired refresh tokens, so the table does not grow without end.
  await deps.repo.purgeExpiredTokens(user.id, new Date(deps.clock.now()));
  const pair = await startSession(deps, { userId: user.id, name: user.name }, randomUUID());
  // Sessions per user are bounded: the oldest go (their refresh tokens stop working), the new one stays.
  await deps.repo.revokeSessionsBeyond(user.id, deps.maxSessionsPerUser ?? defaultMaxSessionsPerUser, new Date(deps.clock.now()));
  return pair;
}

async function startSession(deps: AccountsDeps, user: { userId: string; name: string }, familyId: string): Promise<TokenPair> {
  const nowSeconds = Math.floor(deps.clock.now() / 1000);
  const refreshToken = newRefreshToken();
  const refreshExpiresAt = nowSeconds + deps.refreshTokenTtlSeconds;
  await deps.repo.insertRefreshToken({ digest: refreshTokenDigest(refreshToken), familyId, userId: user.userId, expiresAt: new Date(refreshExpiresAt * 1000) });
  return pairFor(deps, user, familyId, refreshToken, refreshExpiresAt, nowSeconds);
}

async function pairFor(deps: AccountsDeps, user: { userId: string; name: string }, familyId: string, refreshToken: string, refreshExpiresAt: number, nowSeconds: number): Promise<TokenPair> {
  const access = await issueAccessToken(deps.signingKeys.current(), { ...user, sessionId: familyId }, nowSeconds, deps.accessTokenTtlSeconds);
  return { userId: user.userId, name: user.name, accessToken: access.token, refreshToken, accessExpiresAt: access.expiresAt, refreshExpiresAt };
}

export type RefreshVerdict = 'valid' | 'unknown' | 'expired' | 'revoked' | 'reused';

/** What presenting a refresh token with this stored state means. */
export function judgeRefreshToken(token: { expiresAt: Date; usedAt: Date | null; revokedAt: Date | null } | undefined, nowMs: number): RefreshVerdict {
  if (!token) return 'unknown';
  if (token.revokedAt) return 'revoked';
  // A used token presented again: it was stolen, or the thief already used it. Either way the family is burned.
  if (token.usedAt) return 'reused';
  if (token.expiresAt.getTime() <= nowMs) return 'expired';
  return 'valid';
}

/** Rotates: the presented token is used up and a new pair in the same family is returned. */
export async function refresh(deps: AccountsDeps, presented: string): Promise<TokenPair> {
  const digest = refreshTokenDigest(presented);
  const nowMs = deps.clock.now();
  const outcome = await deps.repo.transaction(async (tx) => {
    const token = await tx.lockRefreshToken(digest);
    const verdict = judgeRefreshToken(token, nowMs);
    if (verdict === 'reused' && token) await tx.revokeFamilies([token.familyId], new Date(nowMs));
    if (verdict !== 'valid' || !token) return { ok: false, verdict, familyId: verdict === 'reused' ? token?.familyId : undefined } as const;
    await tx.markRefreshTokenUsed(digest, new Date(nowMs));
    const user = await tx.findUserById(token.userId);
    if (!user) return { ok: false, verdict: 'unknown', familyId: undefined } as const;
    const nowSeconds = Math.floor(nowMs / 1000);
    const refreshToken = newRefreshToken();
    const refreshExpiresAt = nowSeconds + deps.refreshTokenTtlSeconds;
    await tx.insertRefreshToken({ digest: refreshTokenDigest(refreshToken), familyId: token.familyId, userId: user.id, expiresAt: new Date(refreshExpiresAt * 1000) });
    return { ok: true, user, familyId: token.familyId, refreshToken, refreshExpiresAt, nowSeconds } as const;
  });
  // Thrown only after the transaction, so a reuse's family revocation is committed.
  if (!outcome.ok) {
    // On reuse the session id goes along so the gateway can refuse the session's access tokens at once.
    const details = outcome.familyId ? { reason: outcome.verdict, sessionId: outcome.familyId } : { reason: outcome.verdict };
    throw unauthenticated(accountErrors.invalidRefreshToken, { details });
  }
  return pairFor(deps, { userId: outcome.user.id, name: outcome.user.name }, outcome.familyId, outcome.refreshToken, outcome.refreshExpiresAt, outcome.nowSeconds);
}

export interface LogoutRequest {
  refreshToken?: string | undefined;
  userId?: string | undefined;
  sessionId?: string | undefined;
}

/** Revokes the sessions named by the refresh token and/or session id (of `userId` when given); with only `userId`, all of theirs. */
export async function logout(deps: AccountsDeps, request: LogoutRequest): Promise<void> {
  const at = new Date(deps.clock.now());
  const families: string[] = [];
  if (request.sessionId) families.push(request.sessionId);
  if (request.refreshToken) {
    const family = await deps.repo.familyOfToken(refreshTokenDigest(request.refreshToken));
    if (family) families.push(family.familyId);
  }
  if (families.length > 0) {
    await deps.repo.revokeFamilies(families, at, request.userId);
  } else if (request.userId && request.refreshToken === undefined && request.sessionId === undefined) {
    await deps.repo.revokeAllOfUser(request.userId, at);
  }
}
