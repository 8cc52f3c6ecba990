import type { SharedState } from '../../src/gateway/shared-state.js';

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
    setNeverEvicted: async (key, value, ttlSeconds) => {
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
