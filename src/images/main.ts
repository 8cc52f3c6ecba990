import { loadImagesConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { createRpcClient } from '../platform/rpc/client.js';
import { createDiscoveryTransport } from '../platform/rpc/discovery-transport.js';
import { startRegistration } from '../platform/discovery/registration.js';
import { imagesContract } from '../contracts/images.js';
import { usersContract } from '../contracts/users.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { buildImagesApp } from './app.js';

const config = loadImagesConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const transport = createDiscoveryTransport({ discovery: config.DISCOVERY_ADDRESSES, mode: config.RPC_BALANCING, perTryTimeoutMs: config.RPC_PER_TRY_TIMEOUT_MS, logger, metrics });
const app = await buildImagesApp({
  config, logger, metrics,
  users: createRpcClient(usersContract, transport),
  recommendations: createRpcClient(recommendationsContract, transport),
});
await app.listen({ host: config.HOST, port: config.PORT });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.PORT;
const registration = startRegistration({ discovery: config.DISCOVERY_ADDRESSES, serviceName: imagesContract.serviceName, host: `${config.HOST}:${port}`, logger });
onShutdownSignal({
  logger,
  steps: [
    { name: 'deregister', run: () => registration.stop() },
    { name: 'http server', run: () => app.close() },
    { name: 'rpc transport', run: () => transport.close() },
  ],
});
