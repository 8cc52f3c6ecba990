// Backoff, in one place: restart delays for supervised processes (the launcher, the gateway's
// workers) and jittered delays between RPC retries.

export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** A process that ran at least this long before crashing starts over at the initial delay. */
  resetAfterMs: number;
}

/** Delay before restart number `attempt` (1-based) of a run of quick crashes: initial * factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** exponent));
}

/** Tracks consecutive quick crashes and says how long to wait before the next restart. */
export class RestartBackoff {
  private attempt = 0;

  constructor(private readonly policy: BackoffPolicy) {}

  /** Call when the process exits unexpectedly after having run for `uptimeMs`; returns the delay before restarting. */
  nextDelay(uptimeMs: number): { attempt: number; delayMs: number } {
    if (uptimeMs >= this.policy.resetAfterMs) this.attempt = 0;
    this.attempt += 1;
    return { attempt: this.attempt, delayMs: backoffDelay(this.attempt, this.policy) };
  }
}

/** Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^retry)). */
export function backoffWithJitter(retry: number, options: { baseMs?: number; capMs?: number; random?: () => number } = {}): number {
  const ceiling = Math.min(options.capMs ?? 250, (options.baseMs ?? 10) * 2 ** retry);
  return Math.floor((options.random ?? Math.random)() * ceiling);
}
