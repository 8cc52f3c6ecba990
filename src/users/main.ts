import { loadUsersConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { serveRegistered } from '../platform/discovery/registered-server.js';
import { usersContract } from '../contracts/users.js';
import { buildUsersApp } from './app.js';
import { credentialsFor } from '../platform/service-auth.js';

const config = loadUsersConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const app = await buildUsersApp({ config, logger, metrics });
await serveRegistered(app, {
  host: config.HOST, port: config.PORT, discovery: config.DISCOVERY_ADDRESSES, serviceName: usersContract.serviceName, logger,
  credentials: credentialsFor(config, usersContract.serviceName), metrics, metricsPort: config.METRICS_PORT,
});
