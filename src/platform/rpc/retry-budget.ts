import { systemClock, type Clock } from '../clock.js';

// A retry budget: retries may be at most `ratio` of the calls seen over a sliding window (plus a
// small allowance so a quiet client can still retry), so that when a service is failing,
// retries cannot multiply its load.

export interface RetryBudgetSettings {
  /** Retries allowed per call, e.g. 0.2: at most one retry for every five calls. */
  ratio?: number;
  /** Retries allowed per window regardless of traffic. */
  minRetriesPerWindow?: number;
  windowMs?: number;
  /** Buckets the window is kept in (its resolution). */
  buckets?: number;
  clock?: Clock;
}

export class RetryBudget {
  private readonly ratio: number;
  private readonly minRetries: number;
  private readonly bucketMs: number;
  private readonly clock: Clock;
  private readonly calls: number[];
  private readonly retries: number[];
  private readonly starts: number[];

  constructor(settings: RetryBudgetSettings = {}) {
    this.ratio = settings.ratio ?? 0.2;
    this.minRetries = settings.minRetriesPerWindow ?? 10;
    const buckets = settings.buckets ?? 10;
    this.bucketMs = (settings.windowMs ?? 10_000) / buckets;
    this.clock = settings.clock ?? systemClock;
    this.calls = new Array<number>(buckets).fill(0);
    this.retries = new Array<number>(buckets).fill(0);
    this.starts = new Array<number>(buckets).fill(-Infinity);
  }

  /** Counts one call (its first attempt). */
  recordCall(): void {
    this.calls[this.bucket()]!++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    const index = this.bucket();
    const calls = this.sum(this.calls);
    const retries = this.sum(this.retries);
    if (retries >= this.minRetries + Math.floor(this.ratio * calls)) return false;
    this.retries[index]!++;
    return true;
  }

  private bucket(): number {
    const now = this.clock.now();
    const slot = Math.floor(now / this.bucketMs);
    const index = slot % this.calls.length;
    const start = slot * this.bucketMs;
    if (this.starts[index] !== start) {
      this.starts[index] = start;
      this.calls[index] = 0;
      this.retries[index] = 0;
    }
    return index;
  }

  private sum(counts: number[]): number {
    const oldest = this.clock.now() - this.bucketMs * counts.length;
    let total = 0;
    for (let i = 0; i < counts.length; i++) if (this.starts[i]! > oldest) total += counts[i]!;
    return total;
  }
}
