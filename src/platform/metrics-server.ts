import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

// Metrics are served on a port of their own (METRICS_PORT), apart from the port a process
// serves its API on: what Prometheus reads (topology, instance names, error rates) is for the
// operators' network, not for whoever reaches the public gateway. Deployments expose the
// metrics port only to Prometheus.

export interface MetricsServerSettings {
  metrics: Registry;
  /** Where the text comes from when it is not just `metrics` (e.g. summed over the gateway's workers). */
  text?: () => Promise<string>;
}

/** A bare server answering GET /metrics (and whatever the caller adds, e.g. discovery's Prometheus targets). */
export function createMetricsServer(settings: MetricsServerSettings): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', settings.metrics.contentType);
    return settings.text ? settings.text() : settings.metrics.metrics();
  });
  return app;
}

/** Listens on `port` (0: a free one) and returns the port it got. */
export async function listenForMetrics(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : port;
}
