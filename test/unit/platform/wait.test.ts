import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleep, waitFor, WaitTimeoutError } from '../../../src/platform/wait.js';

// The one polling wait: fake timers drive it, so nothing here sleeps for real.

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('waitFor', () => {
  it('returns the first value that is not undefined or false, probing at the interval', async () => {
    const probedAt: number[] = [];
    const answers = [undefined, false, 0, 'late'];
    const result = waitFor('an answer', () => {
      probedAt.push(Date.now());
      return answers.shift();
    }, { intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(1_000);
    // 0 is a value: only undefined and false mean "not yet".
    await expect(result).resolves.toBe(0);
    expect(probedAt.map((t) => t - 1_000_000)).toEqual([0, 100, 200]);
  });

  it('counts a throwing probe as "not yet" and names the last error when time runs out', async () => {
    let calls = 0;
    const result = waitFor('postgres on 5441', () => {
      calls++;
      throw new Error('connection refused');
    }, { timeoutMs: 1_000, intervalMs: 100 });
    const failed = expect(result).rejects.toThrow(new WaitTimeoutError('postgres on 5441', 1_000, new Error('connection refused')));
    await vi.advanceTimersByTimeAsync(1_000);
    await failed;
    await expect(result).rejects.toThrow('timed out after 1000 ms waiting for postgres on 5441: connection refused');
    // Once at the start, every 100 ms, and a last look at the deadline.
    expect(calls).toBe(11);
  });

  it('backs off by the factor up to the cap', async () => {
    const probedAt: number[] = [];
    const result = waitFor('a port', () => void probedAt.push(Date.now() - 1_000_000), { timeoutMs: 2_000, intervalMs: 25, backoffFactor: 2, maxIntervalMs: 250 });
    result.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(1_100);
    // Pauses of 25, 50, 100, 200, then 250 ms each.
    expect(probedAt).toEqual([0, 25, 75, 175, 375, 625, 875]);
  });

  it('stops at once when aborted, with the abort reason', async () => {
    const stop = new AbortController();
    let calls = 0;
    const result = waitFor('never', () => void calls++, { timeoutMs: 60_000, intervalMs: 1_000, signal: stop.signal });
    const failed = expect(result).rejects.toThrow('the process exited');
    await vi.advanceTimersByTimeAsync(1_500);
    stop.abort(new Error('the process exited'));
    await failed;
    expect(calls).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sleep', () => {
  it('resolves after the time, or rejects at once on abort and leaves no timer behind', async () => {
    let done = false;
    void sleep(500).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);

    const stop = new AbortController();
    const aborted = sleep(10_000, stop.signal);
    stop.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    expect(vi.getTimerCount()).toBe(0);
  });
});
