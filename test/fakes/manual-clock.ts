import type { Clock } from '../../src/platform/clock.js';

/** A Clock that moves only when a test says so; timers fire, in order, as it passes them. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  /** Timers set and not yet fired or cleared. */
  readonly pendingTimers: number;
}

export function manualClock(start = 1_000_000): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    monotonic: () => now,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), callback });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        // The earliest due timer (first set wins a tie); callbacks may set new timers.
        let due: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) if (entry[1].at <= until && (!due || entry[1].at < due[1].at)) due = entry;
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = until;
    },
    get pendingTimers() {
      return timers.size;
    },
  };
}

/** Lets every promise that can settle now settle (fakes answer at once), before a test looks or moves the clock. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
