import { unavailable } from '../platform/errors.js';
import type { SharedState } from './shared-state.js';

// Revoked access tokens in the state every gateway worker shares (the Redis ring), so a logout
// is seen by all workers at once. Two kinds of entry: one token (by its id) and a whole login
// session (by the token's `sid`, which every access token of one refresh-token family carries).
// An entry lives only as long as a token it covers could still be valid, and is never evicted
// under memory pressure (setNeverEvicted): a full cache must not bring a revoked token back.

const tokenKey = (tokenId: string) => `auth:revoked:${tokenId}`;
const sessionKey = (sessionId: string) => `auth:revoked-session:${sessionId}`;
/** Tolerates clock skew between the users service (which set the expiry) and us. */
const skewSeconds = 60;
/** Access tokens live ~15 minutes; a session entry outlives any of them that were issued before it. */
export const sessionRevocationSeconds = 60 * 60;

export interface RevocationList {
  /** Throws AppError UNAVAILABLE when no cache node stored it. */
  revoke(tokenId: string, expiresAtSeconds: number): Promise<void>;
  /** Every access token of the session issued so far is refused from now on. */
  revokeSession(sessionId: string): Promise<void>;
  isRevoked(tokenId: string, sessionId?: string): Promise<boolean>;
}

/** A revocation no cache node took must not be reported as done: the caller gets 503 and may retry. */
function stored(replicas: number): void {
  if (replicas === 0) throw unavailable('could not record the revocation; try again', { retryAfterSeconds: 1 });
}

export function createRevocationList(sharedState: SharedState, now: () => number = Date.now): RevocationList {
  return {
    revoke: async (tokenId, expiresAtSeconds) => {
      const ttl = Math.max(1, Math.ceil(expiresAtSeconds - now() / 1000) + skewSeconds);
      stored(await sharedState.setNeverEvicted(tokenKey(tokenId), '1', ttl));
    },
    revokeSession: async (sessionId) => {
      stored(await sharedState.setNeverEvicted(sessionKey(sessionId), '1', sessionRevocationSeconds + skewSeconds));
    },
    isRevoked: async (tokenId, sessionId) => {
      const [token, session] = await Promise.all([
        sharedState.get(tokenKey(tokenId)),
        sessionId === undefined ? null : sharedState.get(sessionKey(sessionId)),
      ]);
      return token !== null || session !== null;
    },
  };
}
