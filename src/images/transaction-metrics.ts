import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TransactionLog } from './transaction-log.repository.js';
import type { Clock } from '../platform/clock.js';

// What the upload and delete transactions export: how they end (by protocol, kind and
// outcome), how long each step takes, how many run now, how many recovery finished, and the
// unfinished ones in the log (an alert fires when one stays).

export interface TransactionMetrics {
  finished(protocol: string, kind: string, outcome: string, seconds: number): void;
  recovered(protocol: string, kind: string, outcome: string): void;
  /** Runs a step, timing it by protocol, step and result (ok or error). */
  step<T>(protocol: string, step: string, work: () => Promise<T>): Promise<T>;
  inFlight(protocol: string, kind: string, delta: number): void;
}

export function transactionMetrics(registry: Registry, log: TransactionLog, clock: Clock): TransactionMetrics {
  const finished = new Counter({
    name: 'easel_upload_transactions_total',
    help: 'Upload and delete transactions finished, by protocol (saga, 2pc), kind and outcome (done, compensated, committed, aborted)',
    labelNames: ['protocol', 'kind', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'easel_upload_transaction_duration_seconds',
    help: 'Time from the start of an upload or delete transaction to its end, by protocol, kind and outcome',
    labelNames: ['protocol', 'kind', 'outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'easel_upload_transaction_step_duration_seconds',
    help: 'Time of one step of an upload or delete transaction (an RPC, a local write), by protocol, step and result',
    labelNames: ['protocol', 'step', 'result'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'easel_upload_transactions_in_flight',
    help: 'Upload and delete transactions this instance is running now, by protocol and kind',
    labelNames: ['protocol', 'kind'],
    registers: [registry],
  });
  const recovered = new Counter({
    name: 'easel_upload_transactions_recovered_total',
    help: 'Transactions left unfinished (a crashed or stuck coordinator) that this instance drove to their end, by protocol, kind and outcome',
    labelNames: ['protocol', 'kind', 'outcome'],
    registers: [registry],
  });
  const oldest = new Gauge({
    name: 'easel_upload_transactions_oldest_open_seconds',
    help: 'Age of the oldest unfinished upload or delete transaction in the log, by protocol (0 when none)',
    labelNames: ['protocol'],
    registers: [registry],
  });
  new Gauge({
    name: 'easel_upload_transactions_open',
    help: 'Unfinished upload and delete transactions in the log, by protocol',
    labelNames: ['protocol'],
    registers: [registry],
    async collect() {
      try {
        const summary = await log.openSummary(new Date(clock.now()));
        for (const protocol of ['saga', '2pc']) {
          const row = summary.find((item) => item.protocol === protocol);
          this.set({ protocol }, row?.open ?? 0);
          oldest.set({ protocol }, row?.oldestSeconds ?? 0);
        }
      } catch {
        // keep the last values while the database is away
      }
    },
  });
  for (const protocol of ['saga', '2pc']) for (const kind of ['upload', 'delete']) inFlight.set({ protocol, kind }, 0);
  return {
    finished(protocol, kind, outcome, seconds) {
      finished.inc({ protocol, kind, outcome });
      duration.observe({ protocol, kind, outcome }, seconds);
    },
    recovered: (protocol, kind, outcome) => recovered.inc({ protocol, kind, outcome }),
    async step(protocol, step, work) {
      const started = performance.now();
      let result = 'error';
      try {
        const value = await work();
        result = 'ok';
        return value;
      } finally {
        steps.observe({ protocol, step, result }, (performance.now() - started) / 1000);
      }
    },
    inFlight: (protocol, kind, delta) => inFlight.inc({ protocol, kind }, delta),
  };
}
