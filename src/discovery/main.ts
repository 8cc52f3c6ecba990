import { loadDiscoveryConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { buildDiscoveryApp } from './app.js';
import { listenForMetrics } from '../platform/metrics-server.js';

const config = loadDiscoveryConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const { app, metricsApp } = buildDiscoveryApp({ config, logger, metrics });
await listenForMetrics(metricsApp, config.HOST, config.METRICS_PORT);
await app.listen({ host: config.HOST, port: config.PORT });
onShutdownSignal({ logger, steps: [{ name: 'http server', run: () => app.close() }] });
