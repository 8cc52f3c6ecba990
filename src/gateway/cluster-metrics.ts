import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';

// The gateway runs one worker per core behind one port, so a scrape of /metrics lands on any
// one worker. Each worker asks the primary, which sums every worker's metrics (prom-client's
// AggregatorRegistry); a scrape therefore always sees the whole gateway.

const request = 'easel:gateway-metrics-request';
const response = 'easel:gateway-metrics-response';

interface MetricsMessage {
  type: string;
  id: string;
  text?: string;
}

/** In the primary: answer workers' requests with the aggregated metrics of all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: MetricsMessage) => {
    if (message?.type !== request) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: response, id: message.id, text }),
      () => worker.send({ type: response, id: message.id }),
    );
  });
}

/** In a worker: a /metrics source that returns the whole cluster's metrics, or this worker's if the primary does not answer. */
export function clusterMetricsText(registry: Registry, timeoutMs = 2_000): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what installs prom-client's listener that answers the primary.
  if (cluster.isWorker) new AggregatorRegistry();
  return () => {
    const send = process.send?.bind(process);
    if (!cluster.isWorker || !send) return registry.metrics();
    const id = randomUUID();
    return new Promise<string>((resolve) => {
      const onMessage = (message: MetricsMessage) => {
        if (message?.type !== response || message.id !== id) return;
        done();
        if (message.text) resolve(message.text);
        else void registry.metrics().then(resolve);
      };
      const timer = setTimeout(() => {
        done();
        void registry.metrics().then(resolve);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        process.off('message', onMessage);
      };
      process.on('message', onMessage);
      send({ type: request, id });
    });
  };
}
