import type { AddressInfo } from 'node:net';
import { loadRecommendationsConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { startRegistration } from '../platform/discovery/registration.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { buildRecommendationsApp } from './app.js';

const config = loadRecommendationsConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const app = await buildRecommendationsApp({ config, logger, metrics });
await app.listen({ host: config.HOST, port: config.PORT });
const { port } = app.server.address() as AddressInfo;
const registration = startRegistration({
  discovery: config.DISCOVERY_ADDRESSES,
  serviceName: recommendationsContract.serviceName,
  host: `${config.HOST}:${port}`,
  logger,
});
onShutdownSignal({
  logger,
  steps: [
    { name: 'deregister', run: () => registration.stop() },
    { name: 'http server and database pool', run: () => app.close() },
  ],
});
