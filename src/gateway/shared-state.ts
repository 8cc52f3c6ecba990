// State shared by every gateway worker: the token revocation list, rate-limit counters and the
// response cache. In production it is the Redis cache ring (src/platform/cache), which has
// exactly this shape; unit tests use `inMemorySharedState`.

export interface SharedState {
  get(key: string): Promise<Buffer | null>;
  /** Never rejects for an unreachable node; resolves with how many replicas took the write. */
  set(key: string, value: Buffer | string, ttlSeconds: number): Promise<number>;
  delete(...keys: string[]): Promise<void>;
  /**
   * Increments a counter that expires `windowSeconds` after its first increment; returns the
   * count, or null when no cache node answered (the caller decides whether to fail open).
   */
  incrementWithin(key: string, windowSeconds: number): Promise<number | null>;
}

/** A single-process stand-in for unit tests. `now` is injectable so tests need no real sleeps. */
export function inMemorySharedState(now: () => number = Date.now): SharedState {
  const entries = new Map<string, { value: Buffer; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    get: async (key) => live(key)?.value ?? null,
    set: async (key, value, ttlSeconds) => {
      entries.set(key, { value: Buffer.from(value), expiresAt: now() + ttlSeconds * 1000 });
      return 1;
    },
    delete: async (...keys) => {
      for (const key of keys) entries.delete(key);
    },
    incrementWithin: async (key, windowSeconds) => {
      const entry = live(key);
      const count = (entry ? Number(entry.value.toString()) : 0) + 1;
      entries.set(key, { value: Buffer.from(String(count)), expiresAt: entry?.expiresAt ?? now() + windowSeconds * 1000 });
      return count;
    },
  };
}
