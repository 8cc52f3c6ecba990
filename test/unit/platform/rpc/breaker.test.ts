import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BrokenCircuitError } from 'cockatiel';
import { InstanceBreakers, type BreakerState } from '../../../../src/platform/rpc/breaker.js';
import type { RpcResponse } from '../../../../src/platform/rpc/client.js';

const ok: RpcResponse = { status: 200, headers: {}, body: Buffer.from('{}') };
/** What a proxy in front of a hung instance answers: a sign of ill health. */
const serverError: RpcResponse = { status: 504, headers: {}, body: Buffer.from('<html>gateway timeout</html>') };
const answer = (status: number, code: string): RpcResponse => ({ status, headers: {}, body: Buffer.from(JSON.stringify({ code, message: 'm' })) });
const downstreamUnavailable: RpcResponse = { status: 503, headers: {}, body: Buffer.from('{"code":"UNAVAILABLE","message":"users unavailable"}') };
const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

describe('per-instance circuit breaker', () => {
  // cockatiel reads Date.now(); the fake clock is the injected clock.
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup() {
    const transitions: string[] = [];
    const breakers = new InstanceBreakers({
      consecutiveFailures: 3,
      halfOpenAfterMs: 5_000,
      onStateChange: (host, state: BreakerState) => transitions.push(`${host}:${state}`),
    });
    return { breakers, transitions };
  }

  it('goes closed -> open on consecutive failures -> half-open after the wait -> closed on a good probe', async () => {
    const { breakers, transitions } = setup();
    const host = 'a:1';
    for (let i = 0; i < 2; i++) await expect(breakers.execute(host, refused)).rejects.toThrow('ECONNREFUSED');
    expect(breakers.state(host)).toBe('closed');
    // A 504 answer is the third failure in a row; the caller still gets the answer.
    expect(await breakers.execute(host, async () => serverError)).toBe(serverError);
    expect(breakers.state(host)).toBe('open');
    expect(breakers.isAvailable(host)).toBe(false);

    // Open: calls are rejected without reaching the instance.
    const attempt = vi.fn(async () => ok);
    await expect(breakers.execute(host, attempt)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(attempt).not.toHaveBeenCalled();

    vi.advanceTimersByTime(4_999);
    expect(breakers.isAvailable(host)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(breakers.isAvailable(host)).toBe(true);

    expect(await breakers.execute(host, attempt)).toBe(ok);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(breakers.state(host)).toBe('closed');
    expect(transitions).toEqual(['a:1:open', 'a:1:half-open', 'a:1:closed']);
  });

  it('admits exactly one probe while half-open, and re-opens when the probe fails', async () => {
    const { breakers } = setup();
    const host = 'b:1';
    for (let i = 0; i < 3; i++) await expect(breakers.execute(host, refused)).rejects.toThrow();
    vi.advanceTimersByTime(5_000);

    let failProbe: (error: Error) => void = () => {};
    const probe = vi.fn(() => new Promise<RpcResponse>((_resolve, reject) => (failProbe = reject)));
    const others = vi.fn(async () => ok);
    const first = breakers.execute(host, probe);
    const concurrent = [breakers.execute(host, others), breakers.execute(host, others), breakers.execute(host, others)];
    await vi.advanceTimersByTimeAsync(0);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(others).not.toHaveBeenCalled();
    expect(breakers.state(host)).toBe('half-open');
    expect(breakers.isAvailable(host)).toBe(false);

    failProbe(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    await expect(first).rejects.toThrow('reset');
    // The held calls never reach the instance: the breaker is open again.
    for (const call of concurrent) await expect(call).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(others).not.toHaveBeenCalled();
    expect(breakers.state(host)).toBe('open');
    expect(breakers.isAvailable(host)).toBe(false);
  });

  it('opens on a failure ratio over a minimum volume even without a long run of failures', async () => {
    const breakers = new InstanceBreakers({ consecutiveFailures: 100, failureRatio: 0.5, ratioWindowMs: 10_000, minimumRps: 1 });
    const host = 'c:1';
    // One success, two failures, repeated: never 3 failures in a row, but two thirds fail.
    let calls = 0;
    for (; calls < 30 && breakers.state(host) === 'closed'; calls++) {
      vi.advanceTimersByTime(100);
      if (calls % 3 === 0) await breakers.execute(host, async () => ok);
      else await breakers.execute(host, async () => serverError);
    }
    expect(breakers.state(host)).toBe('open');
    // Not before the minimum volume (1 call/s over 10 s) was reached.
    expect(calls).toBeGreaterThanOrEqual(10);
  });

  it('does not open under a low volume of failures mixed with successes', async () => {
    const breakers = new InstanceBreakers({ consecutiveFailures: 5, failureRatio: 0.5, ratioWindowMs: 10_000, minimumRps: 5 });
    const host = 'd:1';
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(1_000);
      await breakers.execute(host, async () => (i % 2 === 0 ? serverError : ok));
    }
    expect(breakers.state(host)).toBe('closed');
  });

  it("does not hold a callee's 503 (its dependency is down, or the deadline passed) against it", async () => {
    const { breakers } = setup();
    for (let i = 0; i < 10; i++) expect(await breakers.execute('e:1', async () => downstreamUnavailable)).toBe(downstreamUnavailable);
    expect(breakers.state('e:1')).toBe('closed');
  });

  // A bad request never counts against an instance's health: whatever a live instance answers to
  // one request (even a 500 a malformed input provoked) leaves its breaker closed; only no answer,
  // a timeout or a proxy's word that the instance is gone does not.
  const table: Array<[string, () => Promise<RpcResponse>, boolean]> = [
    ['400 INVALID_ARGUMENT (a NUL byte, a bad cursor)', async () => answer(400, 'INVALID_ARGUMENT'), false],
    ['404 NOT_FOUND', async () => answer(404, 'NOT_FOUND'), false],
    ['409 CONFLICT', async () => answer(409, 'CONFLICT'), false],
    ['413 PAYLOAD_TOO_LARGE', async () => answer(413, 'PAYLOAD_TOO_LARGE'), false],
    ['429 RATE_LIMITED', async () => answer(429, 'RATE_LIMITED'), false],
    ['500 INTERNAL', async () => answer(500, 'INTERNAL'), false],
    ['503 UNAVAILABLE (a dependency)', async () => answer(503, 'UNAVAILABLE'), false],
    ['connection refused', refused, true],
    ['connection reset', () => Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true],
    ['502 from a proxy', async () => answer(502, 'x'), true],
    ['504 from a proxy', async () => serverError, true],
  ];
  for (const [what, attempt, opens] of table) {
    it(`${opens ? 'opens' : 'stays closed'} after 100 answers of: ${what}`, async () => {
      const breakers = new InstanceBreakers({ consecutiveFailures: 5 });
      for (let i = 0; i < 100 && breakers.state('t:1') === 'closed'; i++) {
        vi.advanceTimersByTime(10);
        await breakers.execute('t:1', attempt).catch(() => undefined);
      }
      expect(breakers.state('t:1')).toBe(opens ? 'open' : 'closed');
    });
  }
});
