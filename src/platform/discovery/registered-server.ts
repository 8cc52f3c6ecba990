import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import { onShutdownSignal, type GracefulShutdownSettings } from '../http.js';
import { startRegistration } from './registration.js';

export interface RegisteredServerSettings {
  host: string;
  /** 0 picks a free port; discovery is told the one actually bound. */
  port: number;
  discovery: readonly string[];
  serviceName: string;
  logger: Logger;
  /** Closed after the server, in order (RPC transports and the like). */
  alsoClose?: GracefulShutdownSettings['steps'];
}

/**
 * What every service process does once its app is built: listen, register with every discovery
 * replica under the address it really got, and on SIGTERM/SIGINT deregister first (so callers
 * stop choosing it), then close the server and the rest.
 */
export async function serveRegistered(app: FastifyInstance, settings: RegisteredServerSettings): Promise<void> {
  await app.listen({ host: settings.host, port: settings.port });
  const { port } = app.server.address() as AddressInfo;
  const registration = startRegistration({ discovery: settings.discovery, serviceName: settings.serviceName, host: `${settings.host}:${port}`, logger: settings.logger });
  onShutdownSignal({
    logger: settings.logger,
    steps: [
      { name: 'deregister', run: () => registration.stop() },
      { name: 'http server', run: () => app.close() },
      ...(settings.alsoClose ?? []),
    ],
  });
}
