import { loadavg } from 'node:os';

// The one load runner of the benchmarks: cases run in alternating slices so that whatever else
// the (shared, noisy) machine is doing falls on every case alike, and ratios stay meaningful.

export interface BenchCase {
  name: string;
  /** One request; throws on a wrong answer. */
  call: () => Promise<void>;
}

export interface CaseResult {
  name: string;
  calls: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface InterleavedSettings {
  /** Total measured time per case. */
  durationMs: number;
  rounds: number;
  warmupMs: number;
  concurrency: number;
}

export async function runInterleaved(cases: BenchCase[], settings: InterleavedSettings): Promise<CaseResult[]> {
  const sliceMs = settings.durationMs / settings.rounds;
  const state = cases.map(() => ({ latencies: [] as number[], elapsedMs: 0, errors: 0 }));
  for (const benchCase of cases) await runSlice(benchCase.call, settings.warmupMs, settings.concurrency, undefined);
  for (let round = 0; round < settings.rounds; round++) {
    for (const [index, benchCase] of cases.entries()) {
      const started = performance.now();
      state[index]!.errors += await runSlice(benchCase.call, sliceMs, settings.concurrency, state[index]!.latencies);
      state[index]!.elapsedMs += performance.now() - started;
    }
  }
  return cases.map((benchCase, index) => {
    const { latencies, elapsedMs, errors } = state[index]!;
    latencies.sort((a, b) => a - b);
    return { name: benchCase.name, calls: latencies.length, callsPerSecond: latencies.length / (elapsedMs / 1000), p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), errors };
  });
}

/** `concurrency` callers in closed loops for `forMs`; returns the number of failed calls. */
async function runSlice(call: () => Promise<void>, forMs: number, concurrency: number, latencies: number[] | undefined): Promise<number> {
  const until = performance.now() + forMs;
  let errors = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        await call();
        latencies?.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  }));
  return errors;
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Prints results as a table with each case's throughput and p99 relative to `reference`. */
export function reportRatios(title: string, results: CaseResult[], referenceName: string): void {
  const reference = results.find((r) => r.name === referenceName) ?? results[0]!;
  console.log(`${title}\nload average: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on this machine; ratios are against "${reference.name}"`);
  console.table(results.map((r) => ({
    case: r.name,
    'req/s': Math.round(r.callsPerSecond),
    'p50 ms': r.p50Ms.toFixed(2),
    'p99 ms': r.p99Ms.toFixed(2),
    errors: r.errors,
    'throughput ratio': (r.callsPerSecond / reference.callsPerSecond).toFixed(2),
    'p99 ratio': (r.p99Ms / reference.p99Ms).toFixed(2),
  })));
}

/** `--name=value` command-line numbers with defaults. */
export function numberArg(name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const raw = process.argv.find((arg) => arg.startsWith(prefix));
  const value = raw === undefined ? fallback : Number(raw.slice(prefix.length));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}
