import type { GatewayConfig } from './config.js';
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { AppError } from '../platform/errors.js';
import type { Caller } from './auth-check.js';
import type { GatewayDeps } from './deps.js';
import type { SharedState } from './shared-state.js';

// Rate limits over counters in the shared state (the Redis ring), so every gateway worker
// counts together. Counters are fixed windows that start at the first hit (incrementWithin).

export interface LoginLimits {
  /** Attempts allowed for one account name from one client network per window: the guessing limit. */
  perNameAndAddress: number;
  /**
   * Attempts allowed for one account name from everywhere together: a ceiling far above the
   * per-address one, so a guesser spread over many addresses is slowed down while one person
   * guessing from one place cannot lock the owner out.
   */
  perName: number;
  /** Attempts allowed from one client network across names. */
  perAddress: number;
  windowSeconds: number;
}

export const defaultLoginLimits: LoginLimits = { perNameAndAddress: 10, perName: 100, perAddress: 30, windowSeconds: 5 * 60 };

export interface SignupLimits {
  perAddress: number;
  windowSeconds: number;
}

export const defaultSignupLimits: SignupLimits = { perAddress: 50, windowSeconds: 60 * 60 };

export interface UploadLimits {
  perUser: number;
  windowSeconds: number;
}

export const defaultUploadLimits: UploadLimits = { perUser: 30, windowSeconds: 60 };

type LimitsConfig = Pick<GatewayConfig,
  | 'LOGIN_FAILURES_PER_NAME_AND_ADDRESS' | 'LOGIN_FAILURES_PER_NAME' | 'LOGIN_FAILURES_PER_ADDRESS' | 'LOGIN_FAILURE_WINDOW_SECONDS'
  | 'SIGNUPS_PER_ADDRESS' | 'SIGNUP_WINDOW_SECONDS' | 'UPLOADS_PER_USER' | 'UPLOAD_WINDOW_SECONDS'>;

/** The limits configured for the gateway (see src/gateway/config.ts). */
export function rateLimitsFrom(config: LimitsConfig): { login: LoginLimits; signup: SignupLimits; upload: UploadLimits } {
  return {
    login: {
      perNameAndAddress: config.LOGIN_FAILURES_PER_NAME_AND_ADDRESS,
      perName: config.LOGIN_FAILURES_PER_NAME,
      perAddress: config.LOGIN_FAILURES_PER_ADDRESS,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    signup: { perAddress: config.SIGNUPS_PER_ADDRESS, windowSeconds: config.SIGNUP_WINDOW_SECONDS },
    upload: { perUser: config.UPLOADS_PER_USER, windowSeconds: config.UPLOAD_WINDOW_SECONDS },
  };
}

export const tooManyLoginsMessage = 'too many failed logins; try again later';
export const tooManySignupsMessage = 'too many sign-ups from this network; try again later';
export const tooManyUploadsMessage = 'too many uploads; try again later';

// Names and addresses are hashed so a key's size does not depend on what a client sends.
const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/**
 * The network a client address stands for in a limit: an IPv4 address itself (an IPv4-mapped
 * IPv6 one too), an IPv6 address by its /64, which one subscriber usually gets whole, so that
 * walking through its 2^64 addresses buys no fresh budget.
 */
export function clientNetwork(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.toLowerCase().split('::') as [string, string?];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

async function count(state: SharedState, key: string): Promise<number> {
  const value = await state.get(key);
  return value === null ? 0 : Number(value.toString()) || 0;
}

export interface LoginRateLimiter {
  /**
   * Counts a login attempt before the password is checked (atomic increments on the shared
   * state, so concurrent guesses cannot all pass a check that has not counted them yet); throws
   * AppError RATE_LIMITED (with Retry-After) when the attempt is past a limit. A count no cache
   * node took is lost (the limit fails open rather than blocking logins).
   */
  attempt(name: string, address: string): Promise<void>;
  /** The attempt was not a wrong guess (right password, or the service could not answer): it is given back. */
  giveBack(name: string, address: string): Promise<void>;
}

export function createLoginRateLimiter(state: SharedState, limits: LoginLimits = defaultLoginLimits): LoginRateLimiter {
  const keys = (name: string, address: string) => {
    // Names are case-insensitive (users service), so "Mario" and "mario" share their budget.
    const account = digest(name.toLowerCase());
    const network = digest(clientNetwork(address));
    return {
      pair: `rl:login:pair:${account}:${network}`,
      name: `rl:login:name:${account}`,
      address: `rl:login:addr:${network}`,
      nameGivenBack: `rl:login:name-ok:${account}`,
      addressGivenBack: `rl:login:addr-ok:${network}`,
    };
  };
  const window = limits.windowSeconds;
  return {
    async attempt(name, address) {
      const key = keys(name, address);
      const [pair, byName, byAddress, nameGivenBack, addressGivenBack] = await Promise.all([
        state.incrementWithin(key.pair, window),
        state.incrementWithin(key.name, window),
        state.incrementWithin(key.address, window),
        count(state, key.nameGivenBack),
        count(state, key.addressGivenBack),
      ]);
      if ((pair ?? 0) > limits.perNameAndAddress || (byName ?? 0) - nameGivenBack > limits.perName || (byAddress ?? 0) - addressGivenBack > limits.perAddress) {
        // The window's exact end is not stored; its length is a safe upper bound.
        throw new AppError('RATE_LIMITED', tooManyLoginsMessage, { retryAfterSeconds: window });
      }
    },
    async giveBack(name, address) {
      const key = keys(name, address);
      // The pair starts afresh; the wider counters keep their attempts and gain one given back.
      await Promise.all([
        state.delete(key.pair),
        state.incrementWithin(key.nameGivenBack, window),
        state.incrementWithin(key.addressGivenBack, window),
      ]);
    },
  };
}

/** Counts one sign-up from `address` (its network); throws AppError RATE_LIMITED (with Retry-After) past the limit. */
export async function signupRateLimit(state: SharedState, address: string, limits: SignupLimits = defaultSignupLimits): Promise<void> {
  const signups = await state.incrementWithin(`rl:signup:${digest(clientNetwork(address))}`, limits.windowSeconds);
  // null: no cache node answered; sign-ups go on unlimited rather than stop.
  if (signups !== null && signups > limits.perAddress) throw new AppError('RATE_LIMITED', tooManySignupsMessage, { retryAfterSeconds: limits.windowSeconds });
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
