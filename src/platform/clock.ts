// Time, in one place: everything that reads the time or sets a timer takes a Clock, so unit
// tests drive it with test/fakes/manual-clock.ts instead of sleeping.

export interface Clock {
  /** Milliseconds since the epoch (Date.now): timestamps, leases, expiries. */
  now(): number;
  /**
   * Milliseconds from an arbitrary start that never jump with the wall clock and keep counting
   * while the process is stopped (performance.now): how long ago something happened, for leases
   * that another process relies on.
   */
  monotonic(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
