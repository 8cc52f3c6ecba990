import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createMetricsServer, listenForMetrics } from '../metrics-server.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import { onShutdownSignal, type GracefulShutdownSettings } from '../http.js';
import { startRegistration } from './registration.js';
import type { ServiceCredentials } from '../service-auth.js';

export interface RegisteredServerSettings {
  host: string;
  /** 0 picks a free port; discovery is told the one actually bound. */
  port: number;
  discovery: readonly string[];
  serviceName: string;
  logger: Logger;
  credentials: ServiceCredentials;
  /** The process's metrics, served on `metricsPort` (0: a free one) and registered with discovery. */
  metrics: Registry;
  metricsPort: number;
  /** Closed after the server, in order (RPC transports and the like). */
  alsoClose?: GracefulShutdownSettings['steps'];
}

/**
 * What every service process does once its app is built: listen, register with every discovery
 * replica under the address it really got, and on SIGTERM/SIGINT deregister first (so callers
 * stop choosing it), then close the server and the rest.
 */
export async function serveRegistered(app: FastifyInstance, settings: RegisteredServerSettings): Promise<void> {
  const metricsApp = createMetricsServer({ metrics: settings.metrics });
  const metricsPort = await listenForMetrics(metricsApp, settings.host, settings.metricsPort);
  await app.listen({ host: settings.host, port: settings.port });
  const { port } = app.server.address() as AddressInfo;
  const registration = startRegistration({
    discovery: settings.discovery, serviceName: settings.serviceName, host: `${settings.host}:${port}`, logger: settings.logger,
    credentials: settings.credentials, metricsPort,
  });
  onShutdownSignal({
    logger: settings.logger,
    steps: [
      { name: 'deregister', run: () => registration.stop() },
      { name: 'http server', run: () => app.close() },
      { name: 'metrics server', run: () => metricsApp.close() },
      ...(settings.alsoClose ?? []),
    ],
  });
}
