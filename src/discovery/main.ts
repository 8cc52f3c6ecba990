import { loadDiscoveryConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { buildDiscoveryApp } from './app.js';

const config = loadDiscoveryConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const { app } = buildDiscoveryApp({ config, logger, metrics });
await app.listen({ host: config.HOST, port: config.PORT });
onShutdownSignal({ logger, steps: [{ name: 'http server', run: () => app.close() }] });
