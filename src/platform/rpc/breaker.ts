import {
  circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, SamplingBreaker,
  type CircuitBreakerPolicy, type IBreaker,
} from 'cockatiel';
import { isAppError } from '../errors.js';
import type { RpcResponse } from './client.js';
import { countsAgainstInstance } from './wire.js';

// A circuit breaker per service instance (cockatiel). It opens on N consecutive failures or on a
// failure ratio over a minimum volume; after `halfOpenAfterMs` the next call is the single probe
// (cockatiel holds any other call until the probe settles); a success closes it. The balancer
// asks `isAvailable` and skips instances that are open or already being probed.
// cockatiel reads the time from Date.now(), which tests drive with a fake clock.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface InstanceBreakerSettings {
  /** Opens after this many failures in a row. */
  consecutiveFailures?: number;
  /** Opens when at least this share of calls failed over `ratioWindowMs`... */
  failureRatio?: number;
  ratioWindowMs?: number;
  /** ...provided there were at least this many calls per second in the window. */
  minimumRps?: number;
  /** How long an open breaker rejects calls before admitting one probe. */
  halfOpenAfterMs?: number;
  onStateChange?: (host: string, state: BreakerState) => void;
}

/** Opens when any of its breakers would; every breaker sees every outcome. */
export class EitherBreaker implements IBreaker {
  constructor(private readonly breakers: readonly IBreaker[]) {}

  get state(): unknown {
    return this.breakers.map((b) => b.state);
  }

  set state(value: unknown) {
    (value as unknown[]).forEach((s, i) => {
      this.breakers[i]!.state = s;
    });
  }

  success(state: CircuitState): void {
    for (const breaker of this.breakers) breaker.success(state);
  }

  failure(state: CircuitState): boolean {
    let open = false;
    for (const breaker of this.breakers) open = breaker.failure(state) || open;
    return open;
  }
}

/** Marks a failed answer as a failure of the instance (its body still reaches the caller). */
export class FailedAnswer extends Error {
  constructor(readonly response: RpcResponse) {
    super(`instance answered ${response.status}`);
  }
}

/**
 * What counts against an instance: no answer (refused, reset, RPC_ATTEMPT_TIMEOUT) or an answer
 * the wire rule counts (rpc/wire.ts `countsAgainstInstance`). An AppError raised before anything
 * was sent (the caller's deadline had passed) does not.
 */
const instanceFailures = handleWhen((error) => !isAppError(error));

const toState = (state: CircuitState): BreakerState =>
  state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open';

interface Entry {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

export class InstanceBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly settings: Required<Omit<InstanceBreakerSettings, 'onStateChange'>> & Pick<InstanceBreakerSettings, 'onStateChange'>;

  constructor(settings: InstanceBreakerSettings = {}) {
    this.settings = {
      consecutiveFailures: settings.consecutiveFailures ?? 5,
      failureRatio: settings.failureRatio ?? 0.5,
      ratioWindowMs: settings.ratioWindowMs ?? 10_000,
      minimumRps: settings.minimumRps ?? 2,
      halfOpenAfterMs: settings.halfOpenAfterMs ?? 5_000,
      onStateChange: settings.onStateChange,
    };
  }

  private entry(host: string): Entry {
    let entry = this.entries.get(host);
    if (!entry) {
      const policy = circuitBreaker(instanceFailures, {
        halfOpenAfter: this.settings.halfOpenAfterMs,
        breaker: new EitherBreaker([
          new ConsecutiveBreaker(this.settings.consecutiveFailures),
          new SamplingBreaker({ threshold: this.settings.failureRatio, duration: this.settings.ratioWindowMs, minimumRps: this.settings.minimumRps }),
        ]),
      });
      const created: Entry = { policy, openedAt: 0 };
      policy.onStateChange((state) => {
        if (state === CircuitState.Open) created.openedAt = Date.now();
        this.settings.onStateChange?.(host, toState(state));
      });
      entry = created;
      this.entries.set(host, entry);
    }
    return entry;
  }

  /** Runs one attempt on `host` through its breaker; a failed answer counts as a failure but is returned. */
  async execute(host: string, attempt: () => Promise<RpcResponse>): Promise<RpcResponse> {
    try {
      return await this.entry(host).policy.execute(async () => {
        const response = await attempt();
        if (countsAgainstInstance(response.status)) throw new FailedAnswer(response);
        return response;
      });
    } catch (error) {
      if (error instanceof FailedAnswer) return error.response;
      throw error;
    }
  }

  state(host: string): BreakerState {
    const entry = this.entries.get(host);
    return entry ? toState(entry.policy.state) : 'closed';
  }

  /** Whether a call may go to `host` now: closed, or open long enough that this call may be the probe. */
  isAvailable(host: string, now = Date.now()): boolean {
    const entry = this.entries.get(host);
    if (!entry) return true;
    switch (entry.policy.state) {
      case CircuitState.Closed:
        return true;
      case CircuitState.Open:
        return now - entry.openedAt >= this.settings.halfOpenAfterMs;
      default:
        return false;
    }
  }

  /** Forgets an instance that left the registry. */
  forget(host: string): void {
    this.entries.delete(host);
  }
}
