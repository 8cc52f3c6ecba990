// Polling until something holds, in one place: start-up readiness in the launcher and the test
// harness, and waits in tests. Prefer an event when there is one; poll only what has none (a
// port that starts answering, a row that appears on a standby).

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms)... */
  intervalMs?: number;
  /** ...multiplied by this after each probe (default 1: a steady pace)... */
  backoffFactor?: number;
  /** ...up to this (default intervalMs). */
  maxIntervalMs?: number;
  /** Aborting stops the wait at once with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export class WaitTimeoutError extends Error {
  constructor(readonly what: string, readonly timeoutMs: number, readonly lastError: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message ?? String(lastError)}` : ''}`);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Calls `probe` until it returns something other than undefined or false, and returns that.
 * A probe that throws counts as "not yet" (the last error is named if time runs out). The probe
 * runs once more at the deadline, so a wait never fails without a last look.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const factor = options.backoffFactor ?? 1;
  let intervalMs = options.intervalMs ?? 50;
  const maxIntervalMs = options.maxIntervalMs ?? intervalMs;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    options.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(what, timeoutMs, lastError);
    await sleep(Math.min(intervalMs, left), options.signal);
    intervalMs = Math.min(maxIntervalMs, Math.round(intervalMs * factor));
  }
}

/** A pause that an abort ends early (rejecting with the signal's reason). On the global timers, so fake timers drive it. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
