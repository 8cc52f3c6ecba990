import { z } from 'zod';
import { defineService } from '../platform/rpc/contract.js';
import { twoPhaseParticipant } from './transactions.js';
import { wireLimits } from './limits.js';

const id = () => z.string().max(wireLimits.id);
const token = () => z.string().max(wireLimits.token);
const name = () => z.string().max(wireLimits.name);
const password = () => z.string().max(wireLimits.password);

// The users service: accounts, tokens and the upload quota.

const tokenPair = z.object({
  userId: id(),
  name: name(),
  accessToken: token(),
  refreshToken: token(),
  /** Epoch seconds. */
  accessExpiresAt: z.number(),
  refreshExpiresAt: z.number(),
});
export type TokenPair = z.infer<typeof tokenPair>;

const quota = z.object({ used: z.number().int(), limit: z.number().int() });

export const usersContract = defineService('Users', 'USER SERVICE', {
  Register: {
    input: z.object({ name: name(), password: password() }),
    output: z.object({ userId: id() }),
    idempotent: false,
  },
  /** Safe to retry: a repeated login only opens one more session, which expires unused. */
  Login: {
    input: z.object({ name: name(), password: password() }),
    output: tokenPair,
    idempotent: true,
  },
  /**
   * Rotates the refresh token; reuse of a rotated token revokes the whole family. Refusals are
   * UNAUTHENTICATED with details.reason (unknown, expired, revoked, reused) and, on reuse,
   * details.sessionId (the family, the access tokens' `sid`). Never retry it: a retried refresh is a reuse.
   */
  Refresh: {
    input: z.object({ refreshToken: token() }),
    output: tokenPair,
    idempotent: false,
  },
  /** Revokes the refresh-token family. The gateway adds the access token's id to the revocation list. */
  Logout: {
    /**
     * Revokes the family of `refreshToken` and/or the session `sessionId` (the access token's `sid`);
     * with `userId` these must belong to that user. With only `userId`, every session of the user.
     */
    input: z.object({ refreshToken: token().optional(), userId: id().optional(), sessionId: id().optional() }),
    output: z.object({}),
    idempotent: true,
  },
  /** Public keys (JWK) that verify access tokens, so the gateway can check them locally. */
  SigningKeys: {
    input: z.object({}),
    output: z.object({ keys: z.array(z.record(z.string().max(wireLimits.shortText), z.unknown())).max(16) }),
    idempotent: true,
  },
  /** Reserves one unit of the user's upload quota for `uploadId`; repeating the same uploadId reserves nothing more. */
  ReserveUpload: {
    input: z.object({ userId: id(), uploadId: z.string().max(wireLimits.uploadId) }),
    output: quota,
    idempotent: true,
  },
  /**
   * Gives the unit reserved for `uploadId` back (failed upload, or the image was deleted). Harmless when nothing is reserved.
   * With `final`, `uploadId` is closed for good: a late ReserveUpload of it (a saga step that arrives after its compensation) is refused with CONFLICT.
   */
  ReleaseUpload: {
    input: z.object({ userId: id(), uploadId: z.string().max(wireLimits.uploadId), final: z.boolean().optional() }),
    output: quota,
    idempotent: true,
  },
  /** Two-phase commit, prepare: reserves the unit in a prepared transaction `txId` (QUOTA_EXCEEDED votes no). */
  PrepareReserveUpload: {
    input: z.object({ txId: z.uuid().max(36), userId: id(), uploadId: z.string().max(wireLimits.uploadId) }),
    output: z.object({}),
    idempotent: true,
  },
  /** Two-phase commit, prepare: gives the unit back in a prepared transaction `txId` (image deletion). */
  PrepareReleaseUpload: {
    input: z.object({ txId: z.uuid().max(36), userId: id(), uploadId: z.string().max(wireLimits.uploadId) }),
    output: z.object({}),
    idempotent: true,
  },
  ...twoPhaseParticipant,
  GetQuota: {
    input: z.object({ userId: id() }),
    output: quota,
    idempotent: true,
  },
});

export type UsersContract = typeof usersContract;

/** The original's refusal of a sign-up whose name or password breaks the rules (limits.ts), from the users service or the gateway alike. */
export const invalidCredentialsMessage = 'empty/invalid name and/or password';

/** Claims of the access tokens the users service signs and the gateway verifies (EdDSA JWT). */
export const accessTokenClaims = {
  issuer: 'easel-users',
  audience: 'easel',
  algorithm: 'EdDSA',
} as const;
