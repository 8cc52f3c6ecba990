import { describe, expect, it } from 'vitest';
import { backoffWithJitter } from '../../../../src/platform/backoff.js';
import { RetryBudget } from '../../../../src/platform/rpc/retry-budget.js';
import { manualClock } from '../../../fakes/manual-clock.js';

describe('retry budget', () => {
  it('allows retries for at most ~20% of calls beyond a small allowance', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerWindow: 2, windowMs: 10_000, clock });
    let granted = 0;
    // An outage: 1000 calls, every one of which wants a retry.
    for (let i = 0; i < 1_000; i++) {
      budget.recordCall();
      if (budget.tryRetry()) granted++;
      if (i % 100 === 0) clock.advance(500);
    }
    expect(granted).toBeLessThanOrEqual(2 + 0.2 * 1_000);
    expect(granted).toBeGreaterThanOrEqual(0.2 * 1_000 - 2);
  });

  it('lets a quiet client retry thanks to the allowance', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerWindow: 3, clock: manualClock() });
    budget.recordCall();
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, true, false]);
  });

  it('forgets calls and retries older than the window', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerWindow: 1, windowMs: 10_000, clock });
    budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    clock.advance(10_000);
    expect(budget.tryRetry()).toBe(true);
  });
});

describe('backoff with jitter', () => {
  it('grows exponentially up to a cap, with the delay drawn at random below it', () => {
    expect([0, 1, 2, 3].map((retry) => backoffWithJitter(retry, { baseMs: 10, capMs: 1_000, random: () => 0.999999 }))).toEqual([9, 19, 39, 79]);
    expect(backoffWithJitter(10, { baseMs: 10, capMs: 250, random: () => 0.999999 })).toBe(249);
    expect(backoffWithJitter(3, { random: () => 0 })).toBe(0);
  });
});
