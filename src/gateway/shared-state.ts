// State shared by every gateway worker: the token revocation list, rate-limit counters and the
// response cache. In production it is the Redis cache ring (src/platform/cache), which has
// exactly this shape; unit tests use the in-memory stand-in in test/fakes/shared-state.ts.

export interface SharedState {
  get(key: string): Promise<Buffer | null>;
  /** Never rejects for an unreachable node; resolves with how many replicas took the write. */
  set(key: string, value: Buffer | string, ttlSeconds: number): Promise<number>;
  /** set() for what must outlive memory pressure (revocations): never evicted, gone after ttlSeconds. */
  setNeverEvicted(key: string, value: Buffer | string, ttlSeconds: number): Promise<number>;
  delete(...keys: string[]): Promise<void>;
  /**
   * Increments a counter that expires `windowSeconds` after its first increment; returns the
   * count, or null when no cache node answered (the caller decides whether to fail open).
   */
  incrementWithin(key: string, windowSeconds: number): Promise<number | null>;
}
