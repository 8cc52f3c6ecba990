import type { AddressInfo } from 'node:net';
import { buildEchoApp } from './echo-service.js';
import { startRegistration } from '../../src/platform/discovery/registration.js';
import { createLogger } from '../../src/platform/log.js';
import { testCredentials } from './credentials.js';

// A real service process for integration tests: serves the echo contract on a free port,
// registers with discovery, prints "READY <host:port>" and deregisters on SIGTERM.
// Usage: node --import tsx echo-instance-main.ts <discovery,...> <serviceName> <instance>

const [discoveryList = '', serviceName = 'ECHO SERVICE', instance = 'echo'] = process.argv.slice(2);
const app = buildEchoApp(instance);
await app.listen({ host: '127.0.0.1', port: 0 });
const host = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const registration = startRegistration({
  discovery: discoveryList.split(',').filter(Boolean),
  serviceName,
  host,
  logger: createLogger({ name: instance, level: 'silent' }),
  credentials: testCredentials(serviceName, instance),
});
process.stdout.write(`READY ${host}\n`);
process.once('SIGTERM', () => {
  void registration.stop().then(() => app.close()).then(() => process.exit(0));
});
