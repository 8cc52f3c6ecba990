import { loadDiscoveryConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { createHttpServer, onShutdownSignal } from '../platform/http.js';

const config = loadDiscoveryConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
// Skeleton: the registry comes with the discovery issue.
const app = createHttpServer({ logger, metrics });
await app.listen({ host: config.HOST, port: config.PORT });
onShutdownSignal({ logger, steps: [{ name: 'http server', run: () => app.close() }] });
