import { loadRecommendationsConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { serveRegistered } from '../platform/discovery/registered-server.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { buildRecommendationsApp } from './app.js';
import { credentialsFor } from '../platform/service-auth.js';

const config = loadRecommendationsConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const app = await buildRecommendationsApp({ config, logger, metrics });
await serveRegistered(app, {
  host: config.HOST, port: config.PORT, discovery: config.DISCOVERY_ADDRESSES, serviceName: recommendationsContract.serviceName, logger,
  credentials: credentialsFor(config, recommendationsContract.serviceName), metrics, metricsPort: config.METRICS_PORT,
});
