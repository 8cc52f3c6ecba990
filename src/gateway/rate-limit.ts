import type { GatewayConfig } from './config.js';
import { createHash } from 'node:crypto';
import { AppError } from '../platform/errors.js';
import type { Caller } from './auth-check.js';
import type { GatewayDeps } from './deps.js';
import type { SharedState } from './shared-state.js';

// Rate limits over counters in the shared state (the Redis ring), so every gateway worker
// counts together. Counters are fixed windows that start at the first hit (incrementWithin).

export interface LoginLimits {
  /** Failed logins allowed for one account name per window. */
  perName: number;
  /** Failed logins allowed from one client address per window. */
  perAddress: number;
  windowSeconds: number;
}

export const defaultLoginLimits: LoginLimits = { perName: 10, perAddress: 30, windowSeconds: 5 * 60 };

export interface UploadLimits {
  perUser: number;
  windowSeconds: number;
}

export const defaultUploadLimits: UploadLimits = { perUser: 30, windowSeconds: 60 };

/** The limits configured for the gateway (see src/gateway/config.ts). */
export function rateLimitsFrom(config: Pick<GatewayConfig, 'LOGIN_FAILURES_PER_NAME' | 'LOGIN_FAILURES_PER_ADDRESS' | 'LOGIN_FAILURE_WINDOW_SECONDS' | 'UPLOADS_PER_USER' | 'UPLOAD_WINDOW_SECONDS'>): { login: LoginLimits; upload: UploadLimits } {
  return {
    login: { perName: config.LOGIN_FAILURES_PER_NAME, perAddress: config.LOGIN_FAILURES_PER_ADDRESS, windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS },
    upload: { perUser: config.UPLOADS_PER_USER, windowSeconds: config.UPLOAD_WINDOW_SECONDS },
  };
}

export const tooManyLoginsMessage = 'too many failed logins; try again later';
export const tooManyUploadsMessage = 'too many uploads; try again later';

// Names are hashed so a key's size does not depend on what a client sends.
const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);
const nameKey = (name: string) => `rl:login:name:${digest(name)}`;
const addressKey = (address: string) => `rl:login:addr:${digest(address)}`;

async function count(state: SharedState, key: string): Promise<number> {
  const value = await state.get(key);
  return value === null ? 0 : Number(value.toString()) || 0;
}

export interface LoginRateLimiter {
  /** Throws AppError RATE_LIMITED (with Retry-After) when the name or the address has failed too often. */
  check(name: string, address: string): Promise<void>;
  recordFailure(name: string, address: string): Promise<void>;
  /** A successful login clears the name's count (the address keeps its own). */
  recordSuccess(name: string): Promise<void>;
}

export function createLoginRateLimiter(state: SharedState, limits: LoginLimits = defaultLoginLimits): LoginRateLimiter {
  return {
    async check(name, address) {
      const [byName, byAddress] = await Promise.all([count(state, nameKey(name)), count(state, addressKey(address))]);
      if (byName >= limits.perName || byAddress >= limits.perAddress) {
        // The window's exact end is not stored; its length is a safe upper bound.
        throw new AppError('RATE_LIMITED', tooManyLoginsMessage, { retryAfterSeconds: limits.windowSeconds });
      }
    },
    /** A count no cache node took is lost (the limit fails open rather than blocking logins). */
    async recordFailure(name, address) {
      await Promise.all([
        state.incrementWithin(nameKey(name), limits.windowSeconds),
        state.incrementWithin(addressKey(address), limits.windowSeconds),
      ]);
    },
    async recordSuccess(name) {
      await state.delete(nameKey(name));
    },
  };
}

/** Counts one upload by `caller`; throws AppError RATE_LIMITED (with Retry-After) past the limit. The images routes call this. */
export async function uploadRateLimit(
  deps: Pick<GatewayDeps, 'sharedState'> & Partial<Pick<GatewayDeps, 'config'>>,
  caller: Pick<Caller, 'userId'>,
  limits: UploadLimits = deps.config ? rateLimitsFrom(deps.config).upload : defaultUploadLimits,
): Promise<void> {
  const uploads = await deps.sharedState.incrementWithin(`rl:upload:${caller.userId}`, limits.windowSeconds);
  // null: no cache node answered; uploads go on unlimited rather than stop.
  if (uploads !== null && uploads > limits.perUser) throw new AppError('RATE_LIMITED', tooManyUploadsMessage, { retryAfterSeconds: limits.windowSeconds });
}
