import cluster from 'node:cluster';
import { loadGatewayConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { buildGatewayApp } from './app.js';

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
  const app = await buildGatewayApp({ config, logger: logger.child({ worker: workerName }), metrics });
  await app.listen({ host: config.HOST, port: config.PORT });
  onShutdownSignal({ logger, steps: [{ name: 'http server', run: () => app.close() }] });
}
