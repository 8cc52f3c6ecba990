import { describe, expect, it } from 'vitest';
import { errorCode } from '../../../../src/platform/errors.js';
import { failoverErrorKind, rideThroughFailover, rideThroughHandlers, type FailoverProbe } from '../../../../src/platform/db/failover.js';
import { manualClock, settle } from '../../../fakes/manual-clock.js';

// The retry policy of a database failover, with an injected clock: which failures are held and
// retried, which are not, and what the caller sees when the deadline runs out.

const pgError = (code: string) => Object.assign(new Error(`postgres ${code}`), { code });

/** Work that fails with the given errors in turn, then answers "ok". */
function flaky(...errors: Error[]) {
  let calls = 0;
  const work = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return 'ok';
  };
  return { work, calls: () => calls };
}

describe('failoverErrorKind', () => {
  it.each([
    ['25006', 'not-executed'], // read_only_sql_transaction: reached a standby
    ['57P03', 'not-executed'], // cannot_connect_now
    ['CONNECT_TIMEOUT', 'not-executed'],
    ['ECONNREFUSED', 'not-executed'],
    ['57P01', 'maybe-executed'], // admin_shutdown
    ['CONNECTION_CLOSED', 'maybe-executed'],
    ['ECONNRESET', 'maybe-executed'],
    ['23505', undefined], // unique_violation: an ordinary error
    ['42P01', undefined],
  ])('%s is %s', (code, kind) => {
    expect(failoverErrorKind(pgError(code))).toBe(kind);
  });
});

describe('rideThroughFailover', () => {
  it('holds a write refused by a standby and retries it with backoff until the new primary takes it', async () => {
    const clock = manualClock();
    const { work, calls } = flaky(pgError('25006'), pgError('57P03'), pgError('CONNECT_TIMEOUT'));
    let result: string | undefined;
    void rideThroughFailover(work, { deadline: clock.now() + 10_000, retryMaybeExecuted: false, clock }).then((r) => (result = r));
    await settle();
    expect(calls()).toBe(1);
    clock.advance(99);
    await settle();
    expect(calls()).toBe(1); // first pause 100 ms
    clock.advance(1);
    await settle();
    expect(calls()).toBe(2);
    clock.advance(200); // then 200 ms
    await settle();
    expect(calls()).toBe(3);
    clock.advance(400);
    await settle();
    expect(calls()).toBe(4);
    expect(result).toBe('ok');
  });

  it('tries again at least every 500 ms while the database stays away, so a held request notices the new primary quickly', async () => {
    const clock = manualClock();
    const { work, calls } = flaky(...Array.from({ length: 6 }, () => pgError('25006')));
    let result: string | undefined;
    void rideThroughFailover(work, { deadline: clock.now() + 10_000, retryMaybeExecuted: false, clock }).then((r) => (result = r));
    await settle();
    // Pauses 100, 200, 400, then 500 ms each, not doubling on to 800.
    for (const [pause, expectedCalls] of [[100, 2], [200, 3], [400, 4], [500, 5], [500, 6], [500, 7]] as const) {
      clock.advance(pause - 1);
      await settle();
      expect(calls()).toBe(expectedCalls - 1);
      clock.advance(1);
      await settle();
      expect(calls()).toBe(expectedCalls);
    }
    expect(result).toBe('ok');
  });

  it('does not repeat a write that may have committed unless it is safe to retry', async () => {
    const clock = manualClock();
    const unsafe = flaky(pgError('CONNECTION_CLOSED'));
    const failure = await rideThroughFailover(unsafe.work, { deadline: clock.now() + 10_000, retryMaybeExecuted: false, clock }).catch((e: unknown) => e);
    expect(unsafe.calls()).toBe(1);
    expect(errorCode(failure)).toBe('DATABASE_UNAVAILABLE');

    const keyed = flaky(pgError('57P01'));
    const done = rideThroughFailover(keyed.work, { deadline: clock.now() + 10_000, retryMaybeExecuted: true, clock });
    await settle();
    clock.advance(100);
    expect(await done).toBe('ok');
    expect(keyed.calls()).toBe(2);
  });

  it('passes an ordinary database error through at once', async () => {
    const clock = manualClock();
    const { work, calls } = flaky(pgError('23505'));
    const failure = await rideThroughFailover(work, { deadline: clock.now() + 10_000, retryMaybeExecuted: true, clock }).catch((e: unknown) => e);
    expect((failure as { code: string }).code).toBe('23505');
    expect(calls()).toBe(1);
  });

  it('answers DATABASE_UNAVAILABLE with a Retry-After once the deadline runs out', async () => {
    const clock = manualClock();
    const always = async () => {
      throw pgError('ECONNREFUSED');
    };
    let failure: unknown;
    void rideThroughFailover(always, { deadline: clock.now() + 3_000, retryMaybeExecuted: false, clock }).catch((e: unknown) => (failure = e));
    for (let i = 0; i < 40 && failure === undefined; i++) {
      clock.advance(100);
      await settle();
    }
    expect(errorCode(failure)).toBe('DATABASE_UNAVAILABLE');
    expect((failure as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect(clock.now()).toBeLessThanOrEqual(1_000_000 + 3_000);
  });

  it('unsticks a request held by a hung primary: probe, reconnect, retry on the new primary', async () => {
    const clock = manualClock();
    let rejectStuck: (error: Error) => void = () => undefined;
    let calls = 0;
    const work = () => {
      calls++;
      if (calls === 1) return new Promise<string>((_, reject) => (rejectStuck = reject)); // never answers by itself
      return Promise.resolve('ok');
    };
    let reconnects = 0;
    const probe: FailoverProbe = {
      answers: async () => false,
      reconnect: () => {
        reconnects++;
        rejectStuck(pgError('CONNECTION_DESTROYED')); // what destroying the old pool does to it
      },
    };
    let result: string | undefined;
    void rideThroughFailover(work, { deadline: clock.now() + 10_000, retryMaybeExecuted: true, clock, probe, stallMs: 1_500 }).then((r) => (result = r));
    await settle();
    clock.advance(1_499);
    await settle();
    expect(reconnects).toBe(0);
    clock.advance(1);
    await settle();
    expect(reconnects).toBe(1);
    clock.advance(100);
    await settle();
    expect(result).toBe('ok');
  });

  it('keeps waiting for a slow query while the database answers a fresh connection', async () => {
    const clock = manualClock();
    let finish: (value: string) => void = () => undefined;
    const work = () => new Promise<string>((resolve) => (finish = resolve));
    let probes = 0;
    const probe: FailoverProbe = { answers: async () => (probes++, true), reconnect: () => expect.fail('a slow but healthy database must not be reconnected') };
    let result: string | undefined;
    void rideThroughFailover(work, { deadline: clock.now() + 10_000, retryMaybeExecuted: false, clock, probe, stallMs: 1_000 }).then((r) => (result = r));
    for (let i = 0; i < 5; i++) {
      clock.advance(1_000);
      await settle();
    }
    expect(probes).toBeGreaterThanOrEqual(4);
    finish('slow but fine');
    await settle();
    expect(result).toBe('slow but fine');
  });
});

describe('rideThroughHandlers', () => {
  const methods = { Read: { idempotent: true }, Write: { idempotent: false }, Register: { idempotent: false } };
  const context = (clock: { now(): number }, idempotencyKey?: string) => ({ deadline: clock.now() + 10_000, idempotencyKey, log: { warn: () => undefined } });

  it('re-runs a handler cut off mid-write only when the method is idempotent, keyed, or keyed by request', async () => {
    const clock = manualClock();
    const calls: Record<string, number> = { Read: 0, Write: 0, Register: 0 };
    const cutOnce = (name: string) => async (_input: never, _context: never): Promise<string> => {
      if (calls[name]!++ === 0) throw pgError('CONNECTION_CLOSED');
      return name;
    };
    const handlers = rideThroughHandlers(methods, { Read: cutOnce('Read'), Write: cutOnce('Write'), Register: cutOnce('Register') }, undefined, { clock, keyedByRequest: ['Register'] });
    const run = async (promise: Promise<unknown>) => {
      const outcome = promise.catch((e: unknown) => errorCode(e));
      await settle();
      clock.advance(100);
      return outcome;
    };
    expect(await run(handlers.Read(undefined as never, context(clock) as never))).toBe('Read');
    expect(await run(handlers.Register(undefined as never, context(clock) as never))).toBe('Register');
    expect(await run(handlers.Write(undefined as never, context(clock) as never))).toBe('DATABASE_UNAVAILABLE');
    calls.Write = 0;
    expect(await run(handlers.Write(undefined as never, context(clock, 'key-1') as never))).toBe('Write');
  });
});
