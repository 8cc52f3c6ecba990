import { RestartBackoff, type BackoffPolicy } from '../platform/backoff.js';
import type { Logger } from '../platform/log.js';

// The gateway's primary process runs one worker per core behind one port (node:cluster) and
// keeps that many alive: a worker that dies is replaced, after a delay that grows while
// replacements keep dying quickly (a worker that crashes at start would otherwise be forked in
// a tight loop), and starts over once one has run for a while. Stopping stops the replacing.

/** What the supervisor needs of node:cluster; tests pass a stand-in. */
export interface WorkerCluster {
  fork(): ClusterWorker;
  on(event: 'exit', listener: (worker: ClusterWorker, code: number, signal: string) => void): unknown;
}

export interface ClusterWorker {
  readonly process: { readonly pid?: number | undefined; kill(signal?: NodeJS.Signals): boolean };
}

export interface WorkerSupervisorSettings {
  cluster: WorkerCluster;
  workers: number;
  restart: BackoffPolicy;
  logger: Logger;
  /** How long stop() waits for workers to finish after SIGTERM before it sends SIGKILL. */
  stopTimeoutMs?: number;
}

export interface WorkerSupervisor {
  /** Workers alive now. */
  readonly running: number;
  /** Stops replacing workers, sends every live one SIGTERM, and resolves once all have exited. */
  stop(): Promise<void>;
}

/** Restarts of gateway workers: 100 ms, doubling up to 10 s; a worker that lived 30 s starts over. */
export const workerRestartPolicy: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2, resetAfterMs: 30_000 };

interface Slot {
  readonly backoff: RestartBackoff;
  worker: ClusterWorker | undefined;
  startedAt: number;
  pendingRestart: NodeJS.Timeout | undefined;
}

export function superviseWorkers(settings: WorkerSupervisorSettings): WorkerSupervisor {
  const { cluster, logger } = settings;
  const slotOf = new Map<ClusterWorker, Slot>();
  const slots: Slot[] = Array.from({ length: settings.workers }, () => ({ backoff: new RestartBackoff(settings.restart), worker: undefined, startedAt: 0, pendingRestart: undefined }));
  let stopping: { resolve: () => void; done: Promise<void> } | undefined;

  const start = (slot: Slot) => {
    slot.pendingRestart = undefined;
    const worker = cluster.fork();
    slot.worker = worker;
    slot.startedAt = Date.now();
    slotOf.set(worker, slot);
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker);
    if (!slot) return;
    slotOf.delete(worker);
    slot.worker = undefined;
    if (stopping) {
      if (slotOf.size === 0) stopping.resolve();
      return;
    }
    const { attempt, delayMs } = slot.backoff.nextDelay(Date.now() - slot.startedAt);
    logger.warn({ worker: worker.process.pid, code, signal, attempt, delayMs }, 'gateway worker died; starting another');
    slot.pendingRestart = setTimeout(() => start(slot), delayMs);
  });

  for (const slot of slots) start(slot);

  return {
    get running() {
      return slotOf.size;
    },
    stop() {
      if (stopping) return stopping.done;
      let resolve = () => {};
      const done = new Promise<void>((r) => (resolve = r));
      stopping = { resolve, done };
      for (const slot of slots) clearTimeout(slot.pendingRestart);
      if (slotOf.size === 0) {
        resolve();
        return done;
      }
      for (const worker of slotOf.keys()) worker.process.kill('SIGTERM');
      const killer = setTimeout(() => {
        logger.warn({ workers: slotOf.size }, 'gateway workers still running after SIGTERM; killing them');
        for (const worker of slotOf.keys()) worker.process.kill('SIGKILL');
      }, settings.stopTimeoutMs ?? 10_000);
      void done.then(() => clearTimeout(killer));
      return done;
    },
  };
}
