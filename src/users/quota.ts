import { AppError, isAppError, notFound } from '../platform/errors.js';
import type { UsersRepository } from './users.repository.js';
import type { PrepareOptions } from '../platform/db/two-phase.js';

// The upload quota: one reservation row per upload. Reserving locks the user's row, so
// concurrent reservations for one user are decided one at a time and never exceed the limit;
// the (user, upload) key makes a repeated reserve or release a no-op.

export interface Quota {
  used: number;
  limit: number;
}

export const quotaExceededMessage = 'upload quota exceeded';

export async function reserveUpload(repo: UsersRepository, defaultLimit: number, userId: string, uploadId: string): Promise<Quota> {
  return repo.transaction((tx) => reserveIn(tx, defaultLimit, userId, uploadId));
}

/** The reservation inside the caller's transaction (a plain one, or one to be prepared). */
async function reserveIn(tx: UsersRepository, defaultLimit: number, userId: string, uploadId: string): Promise<Quota> {
  const user = await tx.lockUploadLimit(userId);
  if (!user) throw notFound('no such user');
  const limit = user.uploadLimit ?? defaultLimit;
  const used = await tx.countReservations(userId);
  if (await tx.hasReservation(userId, uploadId)) return { used, limit };
  // A saga step arriving after its compensation must not take the unit again.
  if (await tx.isClosed(userId, uploadId)) throw new AppError('CONFLICT', 'this upload was already given up');
  if (used >= limit) throw new AppError('QUOTA_EXCEEDED', quotaExceededMessage, { details: { used, limit } });
  await tx.insertReservation(userId, uploadId);
  return { used: used + 1, limit };
}

/** Two-phase commit: the reservation, prepared as `txId`. */
export async function prepareReserveUpload(repo: UsersRepository, defaultLimit: number, txId: string, userId: string, uploadId: string, options?: PrepareOptions): Promise<void> {
  await repo.prepare(txId, async (tx) => {
    await reserveIn(tx, defaultLimit, userId, uploadId);
  }, options);
}

/** Two-phase commit: the release (for good), prepared as `txId`. */
export async function prepareReleaseUpload(repo: UsersRepository, txId: string, userId: string, uploadId: string, options?: PrepareOptions): Promise<void> {
  await repo.prepare(txId, async (tx) => {
    await tx.deleteReservation(userId, uploadId);
    await tx.closeUpload(userId, uploadId);
  }, options);
}

/**
 * Harmless when nothing is reserved for `uploadId`, or the user no longer exists. `final`
 * closes `uploadId` for good in the same transaction.
 */
export async function releaseUpload(repo: UsersRepository, defaultLimit: number, userId: string, uploadId: string, final = false): Promise<Quota> {
  await repo.transaction(async (tx) => {
    await tx.deleteReservation(userId, uploadId);
    if (final) await tx.closeUpload(userId, uploadId);
  });
  try {
    return await currentQuota(repo, defaultLimit, userId);
  } catch (error) {
    if (isAppError(error) && error.code === 'NOT_FOUND') return { used: 0, limit: defaultLimit };
    throw error;
  }
}

export async function currentQuota(repo: UsersRepository, defaultLimit: number, userId: string): Promise<Quota> {
  const user = await repo.uploadLimit(userId);
  if (!user) throw notFound('no such user');
  return { used: await repo.countReservations(userId), limit: user.uploadLimit ?? defaultLimit };
}
