import { Registry, collectDefaultMetrics, Counter, Histogram, Gauge } from 'prom-client';

export { Registry, Counter, Histogram, Gauge };

/** One registry per process, with Node's default metrics and the process's name as a label. */
export function createMetricsRegistry(processName: string, options: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });
  return registry;
}
