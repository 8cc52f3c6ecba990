import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../src/platform/semaphore.js';
import { settle } from '../../fakes/manual-clock.js';

// The one concurrency bound: what matters is how many tasks run at once and who goes next.

/** A task the test finishes by hand. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}


describe('Semaphore', () => {
  it('runs at most `permits` tasks at once and starts the rest in arrival order', async () => {
    const semaphore = new Semaphore({ permits: 2 });
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => semaphore.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }));
    await settle();
    expect(started).toEqual([0, 1]);
    expect([semaphore.running, semaphore.waiting]).toEqual([2, 2]);

    gates[1]!.open();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.open();
    gates[3]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect([semaphore.running, semaphore.waiting]).toEqual([0, 0]);
  });

  it('gives the permit back when a task fails', async () => {
    const semaphore = new Semaphore({ permits: 1 });
    await expect(semaphore.run(async () => {
      throw new Error('decode failed');
    })).rejects.toThrow('decode failed');
    expect(semaphore.running).toBe(0);
    expect(await semaphore.run(() => 'next')).toBe('next');
  });

  it('turns callers away with UNAVAILABLE and Retry-After once the queue is full', async () => {
    const semaphore = new Semaphore({ permits: 1, maxWaiting: 1, name: 'password hashing' });
    const busy = gate();
    const first = semaphore.run(() => busy.promise);
    const second = semaphore.run(() => 'queued');
    await expect(semaphore.run(() => 'refused')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryAfterSeconds: 1,
      message: 'too much password hashing in progress; try again shortly',
    });
    busy.open();
    await first;
    expect(await second).toBe('queued');
  });

  it('drops a waiter whose signal aborts, without costing anyone their turn', async () => {
    const semaphore = new Semaphore({ permits: 1 });
    const busy = gate();
    const first = semaphore.run(() => busy.promise);
    const leaving = new AbortController();
    const abandoned = semaphore.run(() => 'never', leaving.signal);
    const patient = semaphore.run(() => 'served');
    leaving.abort(new Error('deadline passed'));
    await expect(abandoned).rejects.toThrow('deadline passed');
    expect(semaphore.waiting).toBe(1);
    busy.open();
    await first;
    expect(await patient).toBe('served');
    expect(semaphore.running).toBe(0);
  });

  it('refuses a nonsensical number of permits', () => {
    expect(() => new Semaphore({ permits: 0 })).toThrow(RangeError);
  });
});
