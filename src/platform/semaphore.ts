import { AppError } from './errors.js';

// Bounding concurrent work, in one place: at most `permits` tasks run at once and the rest wait
// in arrival order, so a burst of expensive work (decoding images, hashing passwords) queues
// instead of multiplying memory and CPU. The queue is bounded too: past `maxWaiting` a caller is
// turned away at once with UNAVAILABLE (and Retry-After) rather than waiting without end.

export interface SemaphoreOptions {
  /** How many tasks may run at once. */
  permits: number;
  /** How many may wait for a permit; more are refused with UNAVAILABLE (default: unbounded). */
  maxWaiting?: number;
  /** What the work is, for the refusal message (e.g. "password hashing"). */
  name?: string;
}

export class Semaphore {
  readonly permits: number;
  readonly maxWaiting: number;
  readonly name: string;
  #running = 0;
  /** Each waiter's grant, in arrival order. */
  readonly #waiting: Array<() => void> = [];

  constructor(options: SemaphoreOptions) {
    if (!Number.isInteger(options.permits) || options.permits < 1) throw new RangeError(`permits must be a positive integer (got ${options.permits})`);
    this.permits = options.permits;
    this.maxWaiting = options.maxWaiting ?? Number.POSITIVE_INFINITY;
    this.name = options.name ?? 'work';
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a permit. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `task` once a permit is free and releases it when the task settles. Rejects with
   * UNAVAILABLE when the queue is full, and with the signal's reason when `signal` aborts while
   * waiting (a task that has started is not interrupted).
   */
  async run<T>(task: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#running < this.permits) {
      this.#running++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxWaiting) {
      return Promise.reject(new AppError('UNAVAILABLE', `too much ${this.name} in progress; try again shortly`, { retryAfterSeconds: 1 }));
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }

  #release(): void {
    // The permit passes straight to the next in line, so a newcomer cannot overtake the queue.
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
