import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/platform/log.js';
import { superviseWorkers, type ClusterWorker, type WorkerCluster } from '../../../src/gateway/worker-supervisor.js';

// The gateway primary's supervision of its workers against a stand-in for node:cluster, on fake
// timers: a dead worker is replaced after growing delays while replacements keep dying at once,
// the delay starts over after a worker has lived a while, and stop() stops the replacing.

const policy = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, resetAfterMs: 30_000 };

class FakeCluster extends EventEmitter implements WorkerCluster {
  readonly forked: FakeWorker[] = [];
  fork(): FakeWorker {
    const worker = new FakeWorker(this, this.forked.length + 1);
    this.forked.push(worker);
    return worker;
  }
  alive(): FakeWorker[] {
    return this.forked.filter((worker) => !worker.exited);
  }
}

class FakeWorker implements ClusterWorker {
  exited = false;
  readonly signals: string[] = [];
  /** Whether SIGTERM makes it exit (a stuck worker ignores it). */
  obeysSigterm = true;
  readonly process: ClusterWorker['process'];

  constructor(private readonly cluster: FakeCluster, pid: number) {
    this.process = {
      pid,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        this.signals.push(signal);
        if (signal === 'SIGKILL' || this.obeysSigterm) this.die(null, signal);
        return true;
      },
    };
  }

  die(code: number | null = 1, signal: string | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.cluster.emit('exit', this, code, signal);
  }
}

let cluster: FakeCluster;
const logger = createLogger({ name: 'test', level: 'silent' });

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  cluster = new FakeCluster();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('superviseWorkers', () => {
  it('starts the configured number of workers', () => {
    const supervisor = superviseWorkers({ cluster, workers: 3, restart: policy, logger });
    expect(cluster.forked).toHaveLength(3);
    expect(supervisor.running).toBe(3);
  });

  it('replaces a worker that dies at once after growing delays, capped', () => {
    superviseWorkers({ cluster, workers: 2, restart: policy, logger });
    const delays: number[] = [];
    for (let crash = 0; crash < 6; crash++) {
      const forkedBefore = cluster.forked.length;
      cluster.forked.at(-1)!.die();
      // Not replaced until its delay has passed.
      let waited = 0;
      while (cluster.forked.length === forkedBefore) {
        vi.advanceTimersByTime(10);
        waited += 10;
        expect(waited).toBeLessThanOrEqual(policy.maxDelayMs);
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    // The other worker never stopped; two are alive.
    expect(cluster.alive()).toHaveLength(2);
  });

  it('starts over at the first delay once a worker has lived long enough', () => {
    superviseWorkers({ cluster, workers: 1, restart: policy, logger });
    for (const wait of [100, 200, 400]) {
      cluster.forked.at(-1)!.die();
      vi.advanceTimersByTime(wait);
    }
    expect(cluster.forked).toHaveLength(4);
    vi.advanceTimersByTime(policy.resetAfterMs);
    cluster.forked.at(-1)!.die();
    vi.advanceTimersByTime(99);
    expect(cluster.forked).toHaveLength(4);
    vi.advanceTimersByTime(1);
    expect(cluster.forked).toHaveLength(5);
  });

  it('each worker has its own delay: one crashing worker does not slow the others\' replacement', () => {
    superviseWorkers({ cluster, workers: 2, restart: policy, logger });
    const [first, second] = cluster.forked as [FakeWorker, FakeWorker];
    // The first slot crashes three times in a row: its next replacement waits 400 ms.
    first.die();
    vi.advanceTimersByTime(100);
    cluster.forked.at(-1)!.die();
    vi.advanceTimersByTime(200);
    cluster.forked.at(-1)!.die();
    // The second crashes for the first time: replaced after 100 ms, while the first still waits.
    second.die();
    expect(cluster.alive()).toHaveLength(0);
    vi.advanceTimersByTime(100);
    expect(cluster.alive()).toHaveLength(1);
    vi.advanceTimersByTime(299);
    expect(cluster.alive()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(cluster.alive()).toHaveLength(2);
  });

  it('stop() stops replacing: a pending restart is cancelled and dying workers stay dead', async () => {
    const supervisor = superviseWorkers({ cluster, workers: 2, restart: policy, logger });
    cluster.forked[0]!.die();
    const stopped = supervisor.stop();
    await stopped;
    expect(cluster.forked[1]!.signals).toEqual(['SIGTERM']);
    vi.advanceTimersByTime(60_000);
    expect(cluster.forked).toHaveLength(2);
    expect(supervisor.running).toBe(0);
  });

  it('stop() waits for the workers to exit, and kills one that ignores SIGTERM', async () => {
    const supervisor = superviseWorkers({ cluster, workers: 2, restart: policy, logger, stopTimeoutMs: 5_000 });
    const stuck = cluster.forked[1]!;
    stuck.obeysSigterm = false;
    let done = false;
    const stopped = supervisor.stop().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    expect(stuck.signals).toEqual(['SIGTERM']);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(stuck.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(cluster.forked).toHaveLength(2);
  });
});
