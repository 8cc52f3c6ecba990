import { loadUsersConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { serveRegistered } from '../platform/discovery/registered-server.js';
import { usersContract } from '../contracts/users.js';
import { buildUsersApp } from './app.js';
import { createRpcClient } from '../platform/rpc/client.js';
import { createDiscoveryTransport } from '../platform/rpc/discovery-transport.js';
import { imagesContract } from '../contracts/images.js';
import { credentialsFor } from '../platform/service-auth.js';

const config = loadUsersConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const credentials = credentialsFor(config, usersContract.serviceName);
const transport = createDiscoveryTransport({ credentials, discovery: config.DISCOVERY_ADDRESSES, mode: config.RPC_BALANCING, perTryTimeoutMs: config.RPC_PER_TRY_TIMEOUT_MS, logger, metrics });
const app = await buildUsersApp({ config, logger, metrics, images: createRpcClient(imagesContract, transport) });
await serveRegistered(app, {
  host: config.HOST, port: config.PORT, discovery: config.DISCOVERY_ADDRESSES, serviceName: usersContract.serviceName, logger,
  credentials, metrics, metricsPort: config.METRICS_PORT,
  alsoClose: [{ name: 'rpc transport', run: () => transport.close() }],
});
