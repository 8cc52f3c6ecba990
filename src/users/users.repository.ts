import type { Sql, TransactionSql } from '../platform/db/database.js';
import { commitPrepared, prepareTransaction, rollbackPrepared, type PrepareOptions } from '../platform/db/two-phase.js';

// All SQL of the users service. Logic lives in accounts.ts, quota.ts and tokens.ts.

export interface UserRecord {
  id: string;
  name: string;
  passwordHash: string;
}

export interface RefreshTokenRecord {
  familyId: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface UsersRepository {
  /** Runs `work` in one transaction; the repository it gets sees and locks within it. */
  transaction<T>(work: (tx: UsersRepository) => Promise<T>): Promise<T>;

  findUserByName(name: string): Promise<UserRecord | undefined>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  /** False when the name is taken (the unique constraint decides, so concurrent sign-ups create one account). */
  insertUser(user: UserRecord): Promise<boolean>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;

  insertRefreshToken(token: { digest: Buffer; familyId: string; userId: string; expiresAt: Date }): Promise<void>;
  /** The token row, locked until the transaction ends. */
  lockRefreshToken(digest: Buffer): Promise<RefreshTokenRecord | undefined>;
  markRefreshTokenUsed(digest: Buffer, at: Date): Promise<void>;
  /** Revokes every token of the families; with `userId`, only families of that user. */
  revokeFamilies(familyIds: readonly string[], at: Date, userId?: string): Promise<void>;
  familyOfToken(digest: Buffer): Promise<{ familyId: string; userId: string } | undefined>;
  revokeAllOfUser(userId: string, at: Date): Promise<void>;
  /** Revokes the user's live sessions (refresh-token families) but the `keep` most recent ones. */
  revokeSessionsBeyond(userId: string, keep: number, at: Date): Promise<void>;
  /** Forgets the user's refresh tokens that expired before `before` (they can neither refresh nor be reused). */
  purgeExpiredTokens(userId: string, before: Date): Promise<void>;

  /** The user's own upload limit (null: the default), locked until the transaction ends; undefined if no such user. */
  lockUploadLimit(userId: string): Promise<{ uploadLimit: number | null } | undefined>;
  uploadLimit(userId: string): Promise<{ uploadLimit: number | null } | undefined>;
  hasReservation(userId: string, uploadId: string): Promise<boolean>;
  countReservations(userId: string): Promise<number>;
  insertReservation(userId: string, uploadId: string): Promise<void>;
  /** True when a reservation was there. */
  deleteReservation(userId: string, uploadId: string): Promise<boolean>;
  /** Whether `uploadId` was released for good (ReleaseUpload with final). */
  isClosed(userId: string, uploadId: string): Promise<boolean>;
  closeUpload(userId: string, uploadId: string): Promise<void>;

  /** Runs `work` in a transaction prepared as `txId` (two-phase commit) instead of committing it; by `options.deadline` or not at all. */
  prepare(txId: string, work: (tx: UsersRepository) => Promise<void>, options?: PrepareOptions): Promise<void>;
  commitPrepared(txId: string): Promise<boolean>;
  rollbackPrepared(txId: string): Promise<boolean>;
}

type Queryable = Sql | TransactionSql;

// postgres.js rejects a malformed uuid with an error; an unknown id is simply "not found" to us.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (value: string) => uuidPattern.test(value);

/** `phaseTwo`: the pool for COMMIT / ROLLBACK PREPARED (two-phase.ts phaseTwoDatabase); `sql` when not given. */
export function createUsersRepository(sql: Sql, phaseTwo: Sql = sql): UsersRepository {
  return repositoryOver(sql, (work) => sql.begin((tx) => work(repositoryOver(tx, undefined, sql, phaseTwo))) as never, sql, phaseTwo);
}

type TransactionRunner = <T>(work: (tx: UsersRepository) => Promise<T>) => Promise<T>;

/** `begin` is undefined inside a transaction: nested work joins the open one. */
function repositoryOver(db: Queryable, begin: TransactionRunner | undefined, root: Sql, phaseTwo: Sql): UsersRepository {
  const self: UsersRepository = {
    transaction: (work) => (begin ? begin(work) : work(self)),

    async findUserByName(name) {
      // Names are case-insensitive: "Alice" and "alice" are one person (users_name_lower_key).
      const rows = await db<UserRecord[]>`select id, name, password_hash as "passwordHash" from users where lower(name) = lower(${name})`;
      return rows[0];
    },
    async findUserById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db<UserRecord[]>`select id, name, password_hash as "passwordHash" from users where id = ${id}`;
      return rows[0];
    },
    async insertUser(user) {
      const rows = await db`
        insert into users (id, name, password_hash) values (${user.id}, ${user.name}, ${user.passwordHash})
        on conflict do nothing returning id`;
      return rows.length === 1;
    },
    async updatePasswordHash(userId, passwordHash) {
      await db`update users set password_hash = ${passwordHash} where id = ${userId}`;
    },

    async insertRefreshToken(token) {
      await db`
        insert into refresh_tokens (token_digest, family_id, user_id, expires_at)
        values (${token.digest}, ${token.familyId}, ${token.userId}, ${token.expiresAt})`;
    },
    async lockRefreshToken(digest) {
      const rows = await db<RefreshTokenRecord[]>`
        select family_id as "familyId", user_id as "userId", expires_at as "expiresAt", used_at as "usedAt", revoked_at as "revokedAt"
        from refresh_tokens where token_digest = ${digest} for update`;
      return rows[0];
    },
    async markRefreshTokenUsed(digest, at) {
      await db`update refresh_tokens set used_at = ${at} where token_digest = ${digest}`;
    },
    async revokeFamilies(familyIds, at, userId) {
      const ids = familyIds.filter(isUuid);
      if (ids.length === 0) return;
      if (userId !== undefined && !isUuid(userId)) return;
      await db`
        update refresh_tokens set revoked_at = coalesce(revoked_at, ${at})
        where family_id = any(${db.array(ids)}::uuid[]) ${userId === undefined ? db`` : db`and user_id = ${userId}`}`;
    },
    async familyOfToken(digest) {
      const rows = await db<{ familyId: string; userId: string }[]>`
        select family_id as "familyId", user_id as "userId" from refresh_tokens where token_digest = ${digest}`;
      return rows[0];
    },
    async revokeAllOfUser(userId, at) {
      if (!isUuid(userId)) return;
      await db`update refresh_tokens set revoked_at = coalesce(revoked_at, ${at}) where user_id = ${userId} and revoked_at is null`;
    },

    async revokeSessionsBeyond(userId, keep, at) {
      if (!isUuid(userId)) return;
      await db`
        update refresh_tokens set revoked_at = ${at}
        where user_id = ${userId} and revoked_at is null and family_id in (
          select family_id from refresh_tokens
          where user_id = ${userId} and revoked_at is null and expires_at > ${at}
          group by family_id order by max(created_at) desc offset ${keep})`;
    },

    async purgeExpiredTokens(userId, before) {
      if (!isUuid(userId)) return;
      await db`delete from refresh_tokens where user_id = ${userId} and expires_at < ${before}`;
    },

    async lockUploadLimit(userId) {
      if (!isUuid(userId)) return undefined;
      const rows = await db<{ uploadLimit: number | null }[]>`select upload_limit as "uploadLimit" from users where id = ${userId} for update`;
      return rows[0];
    },
    async uploadLimit(userId) {
      if (!isUuid(userId)) return undefined;
      const rows = await db<{ uploadLimit: number | null }[]>`select upload_limit as "uploadLimit" from users where id = ${userId}`;
      return rows[0];
    },
    async hasReservation(userId, uploadId) {
      const rows = await db`select 1 from upload_reservations where user_id = ${userId} and upload_id = ${uploadId}`;
      return rows.length > 0;
    },
    async countReservations(userId) {
      const rows = await db<{ count: number }[]>`select count(*)::int as count from upload_reservations where user_id = ${userId}`;
      return rows[0]?.count ?? 0;
    },
    async insertReservation(userId, uploadId) {
      await db`insert into upload_reservations (user_id, upload_id) values (${userId}, ${uploadId}) on conflict do nothing`;
    },
    async deleteReservation(userId, uploadId) {
      if (!isUuid(userId)) return false;
      const rows = await db`delete from upload_reservations where user_id = ${userId} and upload_id = ${uploadId} returning 1`;
      return rows.length > 0;
    },
    async isClosed(userId, uploadId) {
      if (!isUuid(userId)) return false;
      const rows = await db`select 1 from upload_releases where user_id = ${userId} and upload_id = ${uploadId}`;
      return rows.length > 0;
    },
    async closeUpload(userId, uploadId) {
      if (!isUuid(userId)) return;
      await db`insert into upload_releases (user_id, upload_id) values (${userId}, ${uploadId}) on conflict do nothing`;
    },
    prepare: (txId, work, options) => prepareTransaction(root, 'users', txId, (tx) => work(repositoryOver(tx, undefined, root, phaseTwo)), options),
    commitPrepared: (txId) => commitPrepared(phaseTwo, 'users', txId),
    rollbackPrepared: (txId) => rollbackPrepared(phaseTwo, 'users', txId),
  };
  return self;
}
