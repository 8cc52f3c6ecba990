import cluster from 'node:cluster';
import { loadGatewayConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { buildGatewayApp } from './app.js';
import { createRpcClient, fixedTransport } from '../platform/rpc/client.js';
import { usersContract } from '../contracts/users.js';
import { imagesContract } from '../contracts/images.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { inMemorySharedState } from './shared-state.js';

const config = loadGatewayConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });

if (cluster.isPrimary && config.GATEWAY_WORKERS > 1) {
  // One worker per core sharing the port; a dead worker is replaced.
  let stopping = false;
  for (let i = 0; i < config.GATEWAY_WORKERS; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.warn({ worker: worker.process.pid, code, signal }, 'gateway worker died; starting another');
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    const exitWhenDone = () => (Object.keys(cluster.workers ?? {}).length === 0 ? process.exit(0) : setTimeout(exitWhenDone, 50));
    exitWhenDone();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const workerName = cluster.isWorker ? `${config.INSTANCE_NAME}-w${cluster.worker?.id}` : config.INSTANCE_NAME;
  const metrics = createMetricsRegistry(workerName);
  // Wiring placeholder until the discovery transport and cache ring land (issues 3 and 8).
  const transport = fixedTransport('http://127.0.0.1:9');
  const app = await buildGatewayApp({
    config, logger: logger.child({ worker: workerName }), metrics,
    users: createRpcClient(usersContract, transport),
    images: createRpcClient(imagesContract, transport),
    recommendations: createRpcClient(recommendationsContract, transport),
    sharedState: inMemorySharedState(),
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  onShutdownSignal({ logger, steps: [{ name: 'http server', run: () => app.close() }] });
}
