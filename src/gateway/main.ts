import cluster from 'node:cluster';
import { loadGatewayConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { createRpcClient } from '../platform/rpc/client.js';
import { createDiscoveryTransport } from '../platform/rpc/discovery-transport.js';
import { createCacheRing, parseCacheNodes, registerCacheMetrics } from '../platform/cache/index.js';
import { usersContract } from '../contracts/users.js';
import { imagesContract } from '../contracts/images.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { buildGatewayApp } from './app.js';
import { clusterMetricsSource, offerWorkerMetrics } from './cluster-metrics.js';
import { createMetricsServer, listenForMetrics } from '../platform/metrics-server.js';
import { credentialsFor } from '../platform/service-auth.js';
import { gatewayServiceName } from '../contracts/access.js';
import { superviseWorkers, workerRestartPolicy } from './worker-supervisor.js';

const config = loadGatewayConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });

if (cluster.isPrimary && config.GATEWAY_WORKERS > 1) {
  // One worker per core sharing the port; the primary serves their summed metrics and replaces dead ones.
  const metricsApp = createMetricsServer({ metrics: createMetricsRegistry(config.INSTANCE_NAME), text: clusterMetricsSource() });
  await listenForMetrics(metricsApp, config.HOST, config.METRICS_PORT);
  const supervisor = superviseWorkers({ cluster, workers: config.GATEWAY_WORKERS, restart: workerRestartPolicy, logger });
  const stop = () => void Promise.all([supervisor.stop(), metricsApp.close()]).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const workerName = cluster.isWorker ? `${config.INSTANCE_NAME}-w${cluster.worker?.id}` : config.INSTANCE_NAME;
  const workerLogger = logger.child({ worker: workerName });
  const metrics = createMetricsRegistry(workerName);
  const credentials = credentialsFor({ ...config, INSTANCE_NAME: workerName }, gatewayServiceName);
  const transport = createDiscoveryTransport({ credentials, discovery: config.DISCOVERY_ADDRESSES, mode: config.RPC_BALANCING, perTryTimeoutMs: config.RPC_PER_TRY_TIMEOUT_MS, logger: workerLogger, metrics });
  const cacheRing = createCacheRing({ nodes: parseCacheNodes(config.REDIS_NODES), logger: workerLogger });
  registerCacheMetrics(cacheRing, metrics);
  const app = await buildGatewayApp({
    config,
    logger: workerLogger,
    metrics,
    users: createRpcClient(usersContract, transport),
    images: createRpcClient(imagesContract, transport),
    recommendations: createRpcClient(recommendationsContract, transport),
    sharedState: cacheRing,
  });
  // A single process serves its own metrics; a worker's are served by the primary.
  const metricsApp = cluster.isWorker ? undefined : createMetricsServer({ metrics });
  if (cluster.isWorker) offerWorkerMetrics(metrics);
  else await listenForMetrics(metricsApp!, config.HOST, config.METRICS_PORT);
  await app.listen({ host: config.HOST, port: config.PORT });
  onShutdownSignal({
    logger: workerLogger,
    steps: [
      { name: 'http server', run: () => app.close() },
      { name: 'metrics server', run: () => metricsApp?.close() },
      { name: 'rpc transport', run: () => transport.close() },
      { name: 'cache ring', run: () => cacheRing.close() },
    ],
  });
}
