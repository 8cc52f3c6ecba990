import { z } from 'zod';
import { env, loadConfig, type Env } from '../platform/config.js';
import { usersContract } from '../contracts/users.js';
import { imagesContract } from '../contracts/images.js';
import { recommendationsContract } from '../contracts/recommendations.js';

/** The cluster's services: the only names an instance may register under (unless SERVICE_NAMES says otherwise). */
export const clusterServiceNames: readonly string[] = [usersContract.serviceName, imagesContract.serviceName, recommendationsContract.serviceName];

const nameList = (fallback: string) => z.string().default(fallback).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export const discoveryConfigSchema = z.object({
  INSTANCE_NAME: z.string().min(1).default('discovery-1'),
  HOST: env.host('127.0.0.1'),
  PORT: env.port(8500),
  /** An instance is evicted at exactly its last heartbeat + this. */
  LEASE_MS: env.milliseconds(5_000),
  /** A ticket nobody closes expires after this, so a crashed caller leaks nothing. */
  TICKET_TTL_MS: env.milliseconds(30_000),
  /** The other discovery replicas' metrics addresses ("host:port,..."), listed as Prometheus targets beside this one. */
  DISCOVERY_PEERS: env.addressList(''),
  /** Derives the service credentials every registration, heartbeat, report and look-up must carry. */
  CLUSTER_SECRET: env.requiredSecret(),
  /** Internal port serving /metrics and /prometheus/targets (0 picks a free one). */
  METRICS_PORT: env.port(0),
  /** Names instances may register under. */
  SERVICE_NAMES: nameList(clusterServiceNames.join(',')),
  /**
   * Hosts instances may register: "loopback" (127.0.0.0/8, ::1, localhost), "source" (the address
   * the registration came from, e.g. a pod's IP), or names (e.g. compose's container names).
   */
  REGISTRATION_HOSTS: nameList('loopback'),
  LOG_LEVEL: env.logLevel(),
});

export type DiscoveryConfig = Readonly<z.infer<typeof discoveryConfigSchema>>;

export function loadDiscoveryConfig(environment: Env = process.env): DiscoveryConfig {
  return loadConfig(discoveryConfigSchema, environment);
}
