import { loadUsersConfig } from './config.js';
import { createLogger } from '../platform/log.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { onShutdownSignal } from '../platform/http.js';
import { startRegistration } from '../platform/discovery/registration.js';
import { usersContract } from '../contracts/users.js';
import { buildUsersApp } from './app.js';

const config = loadUsersConfig();
const logger = createLogger({ name: config.INSTANCE_NAME, level: config.LOG_LEVEL });
const metrics = createMetricsRegistry(config.INSTANCE_NAME);
const app = await buildUsersApp({ config, logger, metrics });
await app.listen({ host: config.HOST, port: config.PORT });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.PORT;
const registration = startRegistration({ discovery: config.DISCOVERY_ADDRESSES, serviceName: usersContract.serviceName, host: `${config.HOST}:${port}`, logger });
onShutdownSignal({
  logger,
  steps: [
    { name: 'deregister', run: () => registration.stop() },
    { name: 'http server', run: () => app.close() },
  ],
});
