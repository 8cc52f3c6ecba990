import { systemClock, type Clock } from '../clock.js';

// Health of one cache node as seen by this process: a pure state machine over an injected clock.
// The ring marks a node down when a command to it fails or times out, skips it while down, and
// probes it back on an exponential backoff; it is up again only after a probe succeeded.


export type NodeHealthState =
  | { state: 'up'; since: number }
  | {
      state: 'down';
      /** When it went down. */
      since: number;
      /** Earliest time for the next probe. */
      nextProbeAt: number;
      /** Probes that failed since it went down. */
      failedProbes: number;
      /** Why it went down (the first failure), for logs and status pages. */
      reason: string;
    };

export interface ProbeBackoff {
  /** Delay before the first probe after a node goes down. */
  initialMs: number;
  /** Cap on the delay between probes. */
  maxMs: number;
  /** Growth of the delay after each failed probe. */
  multiplier: number;
}

export const defaultProbeBackoff: ProbeBackoff = { initialMs: 250, maxMs: 5_000, multiplier: 2 };

export interface NodeHealthOptions {
  clock?: Clock;
  backoff?: Partial<ProbeBackoff>;
  /**
   * 'down' (default): not used until a first probe succeeds (the ring connects that way).
   * 'up': assumed healthy from the start.
   */
  initial?: 'up' | 'down';
}

export class NodeHealth {
  readonly backoff: ProbeBackoff;
  readonly #clock: Clock;
  #state: NodeHealthState;
  #everUp: boolean;

  constructor(options: NodeHealthOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.backoff = { ...defaultProbeBackoff, ...options.backoff };
    const now = this.#clock.now();
    this.#everUp = options.initial === 'up';
    // A node that never answered is probed at once.
    this.#state = this.#everUp ? { state: 'up', since: now } : { state: 'down', since: now, nextProbeAt: now, failedProbes: 0, reason: 'not connected yet' };
  }

  get current(): NodeHealthState {
    return this.#state;
  }

  get isUp(): boolean {
    return this.#state.state === 'up';
  }

  /**
   * True once the node has been up at least once. A node returning from a later outage may hold
   * entries that were changed or deleted meanwhile (the ring flushes it); a node that was never up
   * has only what it had before this process started.
   */
  get everUp(): boolean {
    return this.#everUp;
  }

  /** A command failed or timed out. Returns true when this took the node down. */
  markDown(reason: string): boolean {
    if (this.#state.state === 'down') return false;
    const now = this.#clock.now();
    this.#state = { state: 'down', since: now, nextProbeAt: now + this.backoff.initialMs, failedProbes: 0, reason };
    return true;
  }

  /** Whether a probe should be sent now. */
  isProbeDue(): boolean {
    return this.#state.state === 'down' && this.#clock.now() >= this.#state.nextProbeAt;
  }

  /** Milliseconds until the next probe is due (0 when due, undefined when up). */
  msUntilProbe(): number | undefined {
    if (this.#state.state === 'up') return undefined;
    return Math.max(0, this.#state.nextProbeAt - this.#clock.now());
  }

  /** A probe failed: back off further. */
  probeFailed(): void {
    if (this.#state.state === 'up') return;
    const failedProbes = this.#state.failedProbes + 1;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.multiplier ** failedProbes);
    this.#state = { ...this.#state, failedProbes, nextProbeAt: this.#clock.now() + delay };
  }

  /** A probe succeeded (and the node is ready to serve). Returns true when this brought it up. */
  markUp(): boolean {
    if (this.#state.state === 'up') return false;
    this.#state = { state: 'up', since: this.#clock.now() };
    this.#everUp = true;
    return true;
  }
}
