import type { RefreshTokenRecord, UserRecord, UsersRepository } from '../../src/users/users.repository.js';

// An in-memory UsersRepository for unit tests of accounts.ts and quota.ts. Transactions run
// one at a time (like the row locks they stand for) and roll back when their work throws.

interface State {
  users: Map<string, UserRecord & { uploadLimit: number | null }>;
  tokens: Map<string, RefreshTokenRecord>;
  reservations: Map<string, Set<string>>;
  /** "user\nupload" released for good. */
  closed: Set<string>;
}

const clone = (state: State): State => ({
  users: new Map([...state.users].map(([k, v]) => [k, { ...v }])),
  tokens: new Map([...state.tokens].map(([k, v]) => [k, { ...v }])),
  reservations: new Map([...state.reservations].map(([k, v]) => [k, new Set(v)])),
  closed: new Set(state.closed),
});

export interface MemoryUsersRepository extends UsersRepository {
  setUploadLimit(userId: string, limit: number | null): void;
  /** Lets a test interleave concurrent work at every repository call. */
  readonly calls: number;
}

export function memoryUsersRepository(): MemoryUsersRepository {
  let state: State = { users: new Map(), tokens: new Map(), reservations: new Map(), closed: new Set() };
  let lock: Promise<unknown> = Promise.resolve();
  let calls = 0;
  // Every call yields to the event loop, so concurrent callers really interleave.
  const step = async () => {
    calls++;
    await new Promise((resolve) => setImmediate(resolve));
  };
  const key = (digest: Buffer) => digest.toString('hex');

  const repo: MemoryUsersRepository = {
    get calls() {
      return calls;
    },
    setUploadLimit(userId, limit) {
      const user = state.users.get(userId);
      if (user) user.uploadLimit = limit;
    },
    transaction(work) {
      const run = lock.then(async () => {
        const before = clone(state);
        try {
          return await work(repo);
        } catch (error) {
          state = before;
          throw error;
        }
      });
      lock = run.catch(() => undefined);
      return run;
    },
    async findUserByName(name) {
      await step();
      const user = [...state.users.values()].find((u) => u.name.toLowerCase() === name.toLowerCase());
      return user && { id: user.id, name: user.name, passwordHash: user.passwordHash };
    },
    async findUserById(id) {
      await step();
      const user = state.users.get(id);
      return user && { id: user.id, name: user.name, passwordHash: user.passwordHash };
    },
    async insertUser(user) {
      await step();
      if ([...state.users.values()].some((u) => u.name.toLowerCase() === user.name.toLowerCase())) return false;
      state.users.set(user.id, { ...user, uploadLimit: null });
      return true;
    },
    async updatePasswordHash(userId, passwordHash) {
      await step();
      const user = state.users.get(userId);
      if (user) user.passwordHash = passwordHash;
    },
    async insertRefreshToken(token) {
      await step();
      state.tokens.set(key(token.digest), { familyId: token.familyId, userId: token.userId, expiresAt: token.expiresAt, usedAt: null, revokedAt: null });
    },
    async lockRefreshToken(digest) {
      await step();
      const token = state.tokens.get(key(digest));
      return token && { ...token };
    },
    async markRefreshTokenUsed(digest, at) {
      await step();
      const token = state.tokens.get(key(digest));
      if (token) token.usedAt = at;
    },
    async revokeFamilies(familyIds, at, userId) {
      await step();
      for (const token of state.tokens.values()) {
        if (familyIds.includes(token.familyId) && (userId === undefined || token.userId === userId)) token.revokedAt ??= at;
      }
    },
    async familyOfToken(digest) {
      await step();
      const token = state.tokens.get(key(digest));
      return token && { familyId: token.familyId, userId: token.userId };
    },
    async revokeAllOfUser(userId, at) {
      await step();
      for (const token of state.tokens.values()) if (token.userId === userId) token.revokedAt ??= at;
    },
    async revokeSessionsBeyond(userId, keep, at) {
      await step();
      const newest = new Map<string, number>();
      let order = 0;
      for (const token of state.tokens.values()) {
        order++;
        if (token.userId === userId && !token.revokedAt && token.expiresAt > at) newest.set(token.familyId, order);
      }
      const ended = new Set([...newest].sort((a, b) => b[1] - a[1]).slice(keep).map(([familyId]) => familyId));
      for (const token of state.tokens.values()) if (ended.has(token.familyId)) token.revokedAt ??= at;
    },
    async purgeExpiredTokens(userId, before) {
      await step();
      for (const [digest, token] of state.tokens) if (token.userId === userId && token.expiresAt < before) state.tokens.delete(digest);
    },
    async lockUploadLimit(userId) {
      return repo.uploadLimit(userId);
    },
    async uploadLimit(userId) {
      await step();
      const user = state.users.get(userId);
      return user && { uploadLimit: user.uploadLimit };
    },
    async hasReservation(userId, uploadId) {
      await step();
      return state.reservations.get(userId)?.has(uploadId) ?? false;
    },
    async countReservations(userId) {
      await step();
      return state.reservations.get(userId)?.size ?? 0;
    },
    async insertReservation(userId, uploadId) {
      await step();
      const set = state.reservations.get(userId) ?? new Set<string>();
      set.add(uploadId);
      state.reservations.set(userId, set);
    },
    async deleteReservation(userId, uploadId) {
      await step();
      return state.reservations.get(userId)?.delete(uploadId) ?? false;
    },
    async isClosed(userId, uploadId) {
      await step();
      return state.closed.has(`${userId}\n${uploadId}`);
    },
    async closeUpload(userId, uploadId) {
      await step();
      state.closed.add(`${userId}\n${uploadId}`);
    },
    // Two-phase commit needs PostgreSQL's PREPARE TRANSACTION: tested against the real one (test/integration/transactions).
    prepare: () => Promise.reject(new Error('not in memory')),
    commitPrepared: () => Promise.reject(new Error('not in memory')),
    rollbackPrepared: () => Promise.reject(new Error('not in memory')),
  };
  return repo;
}
