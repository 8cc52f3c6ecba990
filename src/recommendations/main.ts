import { loadRecommendationsConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { serveRegistered } from '../platform/discovery/registered-server.js';
import { recommendationsContract } from '../contracts/recommendations.js';
import { buildRecommendationsApp } from './app.js';
import { createRpcClient } from '../platform/rpc/client.js';
import { createDiscoveryTransport } from '../platform/rpc/discovery-transport.js';
import { imagesContract } from '../contracts/images.js';
import { credentialsFor } from '../platform/service-auth.js';

const config = loadRecommendationsConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const credentials = credentialsFor(config, recommendationsContract.serviceName);
const transport = createDiscoveryTransport({ credentials, discovery: config.DISCOVERY_ADDRESSES, mode: config.RPC_BALANCING, perTryTimeoutMs: config.RPC_PER_TRY_TIMEOUT_MS, logger, metrics });
const app = await buildRecommendationsApp({ config, logger, metrics, images: createRpcClient(imagesContract, transport) });
await serveRegistered(app, {
  host: config.HOST, port: config.PORT, discovery: config.DISCOVERY_ADDRESSES, serviceName: recommendationsContract.serviceName, logger,
  credentials, metrics, metricsPort: config.METRICS_PORT,
  alsoClose: [{ name: 'rpc transport', run: () => transport.close() }],
});
