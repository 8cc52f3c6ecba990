import { z } from 'zod';
import { env, loadConfig, type Env } from '../platform/config.js';

export const discoveryConfigSchema = z.object({
  INSTANCE_NAME: z.string().min(1).default('discovery-1'),
  HOST: env.host('127.0.0.1'),
  PORT: env.port(8500),
  /** An instance is evicted at exactly its last heartbeat + this. */
  LEASE_MS: env.milliseconds(5_000),
  /** A ticket nobody closes expires after this, so a crashed caller leaks nothing. */
  TICKET_TTL_MS: env.milliseconds(30_000),
  /** The other discovery replicas ("host:port,..."), listed as Prometheus targets beside this one. */
  DISCOVERY_PEERS: env.addressList(''),
  LOG_LEVEL: env.logLevel(),
});

export type DiscoveryConfig = Readonly<z.infer<typeof discoveryConfigSchema>>;

export function loadDiscoveryConfig(environment: Env = process.env): DiscoveryConfig {
  return loadConfig(discoveryConfigSchema, environment);
}
