import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { env, loadConfig, type Env } from '../platform/config.js';
import { cacheNodeSpecProblems } from '../platform/cache/node-spec.js';

export const gatewayConfigSchema = z.object({
  INSTANCE_NAME: z.string().min(1).default('gateway'),
  /** The gateway is the public entry point; bind 0.0.0.0 to expose it. */
  HOST: env.host('127.0.0.1'),
  PORT: env.port(8080),
  /** Node cluster workers; defaults to one per core. */
  GATEWAY_WORKERS: env.positiveInt(availableParallelism()),
  DISCOVERY_ADDRESSES: env.addressList('127.0.0.1:8500,127.0.0.1:8501'),
  RPC_BALANCING: z.enum(['snapshot', 'ticket']).default('snapshot'),
  /** Time limit of one RPC attempt on one instance; a hung instance costs at most this, then the call moves on. */
  RPC_PER_TRY_TIMEOUT_MS: env.milliseconds(2_000),
  /** Derives the gateway's service credentials and the user assertions it sends (src/platform/service-auth.ts). */
  CLUSTER_SECRET: env.requiredSecret(),
  /** Internal port serving /metrics (summed over the workers); the public port serves none. 0 picks a free one. */
  METRICS_PORT: env.port(0),
  /** The cache ring: "name=host:port,..." */
  REDIS_NODES: z.string().default('cache-1=127.0.0.1:6380,cache-2=127.0.0.1:6381,cache-3=127.0.0.1:6382,cache-4=127.0.0.1:6383')
    .superRefine((spec, ctx) => {
      for (const problem of cacheNodeSpecProblems(spec)) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Mark cookies Secure; set when the gateway is served over HTTPS. */
  COOKIE_SECURE: env.boolean(false),
  LOGIN_FAILURES_PER_NAME: env.positiveInt(10),
  LOGIN_FAILURES_PER_ADDRESS: env.positiveInt(30),
  LOGIN_FAILURE_WINDOW_SECONDS: env.positiveInt(300),
  UPLOADS_PER_USER: env.positiveInt(30),
  UPLOAD_WINDOW_SECONDS: env.positiveInt(60),
  /** How long GET image responses stay in the cache ring. */
  IMAGE_CACHE_TTL_SECONDS: env.positiveInt(300),
  /** The built web app served under /app/; empty means web/dist in the repository. */
  WEB_APP_DIR: z.string().default(''),
  /**
   * Origins besides the gateway's own (its Host) that may send cookie-authenticated writes,
   * comma-separated (e.g. a proxy's public origin): "https://easel.example".
   */
  TRUSTED_ORIGINS: z.string().default('').transform((text, ctx) => {
    const origins = text.split(',').map((item) => item.trim()).filter(Boolean);
    for (const origin of origins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://host:port` });
    }
    return origins;
  }),
  LOG_LEVEL: env.logLevel(),
});

export type GatewayConfig = Readonly<z.infer<typeof gatewayConfigSchema>>;

export function loadGatewayConfig(environment: Env = process.env): GatewayConfig {
  return loadConfig(gatewayConfigSchema, environment);
}
