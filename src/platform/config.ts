import { z } from 'zod';
import { EaselError } from './errors.js';

// The one place that turns environment variables into a typed, frozen configuration.
// Every process has its own config module that calls `loadConfig` with its schema;
// all bad variables are reported together so an operator fixes them in one go.

export class ConfigError extends EaselError {
  static readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(ConfigError.code, `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nFix these environment variables and start again.`);
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig<S extends z.ZodObject<z.ZodRawShape>>(schema: S, env: Env): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, so defaults apply.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const got = typeof issue.path[0] === 'string' ? input[issue.path[0]] : undefined;
      // A secret's value is never repeated in an error (it would end up in a log).
      const shown = got === undefined || /PASSWORD|SECRET/.test(name) ? '' : ` (got ${JSON.stringify(got)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as Record<string, unknown>)) deepFreeze(inner);
  }
  return value;
}

// Reusable field parsers for environment strings.
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  milliseconds: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  host: (fallback: string) => z.string().min(1).default(fallback),
  boolean: (fallback: boolean) =>
    z.enum(['true', 'false', '1', '0', 'yes', 'no']).default(fallback ? 'true' : 'false').transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** A password or key handed over by the launcher (or a secret store); optional, never echoed in errors. */
  secret: () => z.string().min(16, 'is too short for a generated secret').optional(),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Comma-separated list of host:port addresses. */
  addressList: (fallback: string) =>
    z.string().default(fallback).transform((s, ctx) => {
      const items = s.split(',').map((x) => x.trim()).filter(Boolean);
      for (const item of items) {
        if (!/^[^\s:]+:\d{1,5}$/.test(item)) ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
      }
      return items;
    }),
  /** A generated secret every process needs (the launcher's secrets folder, a compose or Kubernetes secret): never defaulted. */
  requiredSecret: () => z.string().min(16, 'must be set to a generated secret (at least 16 characters)'),
};

/**
 * Variables of the services taking part in the upload and delete transactions (users, images,
 * recommendations): when a prepared transaction counts as left behind, and the test-only failpoints.
 */
export const transactionEnvShape = {
  /** A prepared transaction older than this is finished by asking the coordinator (presumed abort). */
  PREPARED_RESOLVE_AFTER_MS: env.milliseconds(30_000),
  /** How often the prepared-transaction resolver looks. */
  PREPARED_RESOLVE_INTERVAL_MS: env.milliseconds(5_000),
  /** Test only, never set by the launcher: comma-separated failpoint names at which the process SIGKILLs itself. */
  EASEL_FAILPOINTS: z.string().default('').transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
};

/** Variables every Easel service process takes; the launcher sets them. */
export const serviceEnvShape = {
  /** This process's instance name, e.g. "users-1". */
  INSTANCE_NAME: z.string().min(1),
  HOST: env.host('127.0.0.1'),
  /** 0 picks a free port. */
  PORT: env.port(0),
  DISCOVERY_ADDRESSES: env.addressList('127.0.0.1:8500,127.0.0.1:8501'),
  RPC_BALANCING: z.enum(['snapshot', 'ticket']).default('snapshot'),
  /** Time limit of one RPC attempt on one instance; a hung instance costs at most this, then the call moves on. */
  RPC_PER_TRY_TIMEOUT_MS: env.milliseconds(2_000),
  /** Derives this process's service credentials (src/platform/service-auth.ts). */
  CLUSTER_SECRET: env.requiredSecret(),
  /** Internal port serving /metrics for Prometheus (0 picks a free one, registered with discovery). */
  METRICS_PORT: env.port(0),
  LOG_LEVEL: env.logLevel(),
};
