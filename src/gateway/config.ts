import { isIP } from 'node:net';
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
  /** The ACL user and password the gateway logs in to every Redis node with (the default user is off). */
  REDIS_USERNAME: z.string().min(1).default('easel'),
  REDIS_PASSWORD: env.secret(),
  /**
   * Mark cookies Secure (sent over HTTPS only). On unless the gateway is a local development one
   * (bound to loopback); set it to false explicitly only behind plain HTTP you control.
   */
  COOKIE_SECURE: z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).default('').transform((value) => (value === '' ? undefined : ['true', '1', 'yes'].includes(value))),
  /** Access tokens living longer than this (issued-at to expiry, or issued-at to now) are refused. */
  MAX_ACCESS_TOKEN_AGE_SECONDS: env.positiveInt(3600),
  /** Login attempts per window for one name from one client network (IPv6: its /64); counted before the password is checked. */
  LOGIN_FAILURES_PER_NAME_AND_ADDRESS: env.positiveInt(10),
  /** The ceiling for one name from everywhere: far above the per-network limit, so no one can lock an owner out cheaply. */
  LOGIN_FAILURES_PER_NAME: env.positiveInt(100),
  LOGIN_FAILURES_PER_ADDRESS: env.positiveInt(30),
  LOGIN_FAILURE_WINDOW_SECONDS: env.positiveInt(300),
  SIGNUPS_PER_ADDRESS: env.positiveInt(50),
  SIGNUP_WINDOW_SECONDS: env.positiveInt(3600),
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (rate limits): empty (none,
   * the default: the gateway faces clients), a hop count ("1"), or comma-separated addresses or
   * CIDR ranges of the proxies ("10.0.0.0/8,127.0.0.1").
   */
  TRUST_PROXY: z.string().default('').transform((text, ctx): false | string[] | ((address: string, hop: number) => boolean) => {
    const trimmed = text.trim();
    if (trimmed === '') return false;
    if (/^\d+$/.test(trimmed)) {
      const hops = Number(trimmed);
      return (_address, hop) => hop < hops;
    }
    const entries = trimmed.split(',').map((item) => item.trim()).filter(Boolean);
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/');
      if (isIP(address) === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) ctx.addIssue({ code: 'custom', message: `"${entry}" is not an address or CIDR range` });
    }
    return entries;
  }),
  UPLOADS_PER_USER: env.positiveInt(30),
  UPLOAD_WINDOW_SECONDS: env.positiveInt(60),
  /** How long GET image responses stay in the cache ring. */
  IMAGE_CACHE_TTL_SECONDS: env.positiveInt(300),
  /**
   * MiB of image answers each worker keeps in memory (the hot tier over the ring); 0 turns it
   * off. Counted in the worker's 120 MB budget: a worker under load without it sits at about
   * 116 MB, and bench:memory fills it (docs/read-path.md). A few dozen popular answers fit;
   * raise it where workers may use more memory.
   */
  IMAGE_HOT_TIER_MB: env.nonNegativeInt(2),
  /**
   * How long a worker reuses an image's generation read from the ring, and how long every PATCH
   * and DELETE waits before it answers (so no read after it can be stale). 0 asks the ring on
   * every read. The same value on every gateway; at most 1000 (it is added to every change).
   */
  IMAGE_GENERATION_LEASE_MS: z.coerce.number().int().min(0).max(1_000).default(100),
  /** Views are sent to the recommendations service at most this long after they happen (a crash loses at most this window). */
  VIEW_FLUSH_INTERVAL_MS: env.milliseconds(1_000),
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
  /** The longest one request may take to arrive whole, body included (a 16 MiB upload at 0.5 MB/s fits). */
  REQUEST_TIMEOUT_MS: env.milliseconds(60_000),
  /** The longest a client may take to send the request headers. */
  HEADERS_TIMEOUT_MS: env.milliseconds(10_000),
  /** A connection with no traffic for this long is closed. */
  CONNECTION_IDLE_TIMEOUT_MS: env.milliseconds(30_000),
  /** Open connections per gateway worker; more are refused at once. */
  MAX_CONNECTIONS: env.positiveInt(2_000),
  LOG_LEVEL: env.logLevel(),
});

export type GatewayConfig = Readonly<z.infer<typeof gatewayConfigSchema>>;

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1']);

/** Whether cookies carry Secure: as configured, else everywhere but a gateway bound to loopback (local development). */
export function secureCookies(config: Pick<GatewayConfig, 'COOKIE_SECURE' | 'HOST'>): boolean {
  return config.COOKIE_SECURE ?? !loopbackHosts.has(config.HOST);
}

export function loadGatewayConfig(environment: Env = process.env): GatewayConfig {
  return loadConfig(gatewayConfigSchema, environment);
}
