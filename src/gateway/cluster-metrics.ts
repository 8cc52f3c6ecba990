import { AggregatorRegistry, type Registry } from 'prom-client';

// The gateway runs one worker per core behind one port. Its metrics are served by the primary
// on the internal metrics port (METRICS_PORT), summed over every worker (prom-client's
// AggregatorRegistry asks each worker over the cluster's IPC channel), so a scrape always sees
// the whole gateway and the public port serves no metrics at all.

/** In the primary: the whole gateway's metrics text. */
export function clusterMetricsSource(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}

/** In a worker: lets the primary collect this worker's registry. */
export function offerWorkerMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what installs prom-client's listener that answers the primary.
  new AggregatorRegistry();
}
