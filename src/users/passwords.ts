import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Semaphore } from '../platform/semaphore.js';

// Password hashing with scrypt from node:crypto. The stored form carries its own parameters
// (PHC-style "$scrypt$ln=14,r=8,p=1$<salt>$<hash>"), so the cost can be raised later and old
// hashes still verify (and are re-hashed on the next successful login).

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost. */
  log2N: number;
  r: number;
  p: number;
}

const saltBytes = 16;
const keyBytes = 32;

/** scrypt's parameters: N = 2^log2N, r = 8, and p (parallelism: p runs over the same memory, so CPU grows with p and memory does not). */
export function scryptCost(log2N: number, p = 1): ScryptCost {
  return { log2N, r: 8, p };
}

function deriveKey(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  // scrypt needs 128 * N * r bytes; node's default maxmem (32 MiB) is too small above N=2^14.
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(saltBytes);
  return storedForm(cost, salt, await deriveKey(password, salt, cost));
}

function storedForm(cost: ScryptCost, salt: Buffer, key: Buffer): string {
  return `$scrypt$ln=${cost.log2N},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface ParsedHash {
  cost: ScryptCost;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match as unknown as [string, string, string, string, string, string];
  const cost = { log2N: Number(ln), r: Number(r), p: Number(p) };
  if (cost.log2N < 1 || cost.log2N > 22 || cost.r < 1 || cost.p < 1) return undefined;
  return { cost, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/** Constant-time comparison against a stored hash. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await deriveKey(password, parsed.salt, parsed.cost);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** Whether a stored hash was made with other parameters than `cost` (then re-hash after a successful login). */
export function needsRehash(stored: string, cost: ScryptCost): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.cost.log2N !== cost.log2N || parsed.cost.r !== cost.r || parsed.cost.p !== cost.p;
}

/** A well-formed stored hash at `cost` that no password matches (its key is random, not derived). */
export function standInHash(cost: ScryptCost): string {
  return storedForm(cost, randomBytes(saltBytes), randomBytes(keyBytes));
}

export interface PasswordHasher {
  readonly cost: ScryptCost;
  /** `signal`: the caller stopped waiting; a hash still queued then is dropped (rejects with the signal's reason). */
  hash(password: string, signal?: AbortSignal): Promise<string>;
  /**
   * Verifies `password` against `stored`; with no stored hash (unknown user) it verifies against a
   * stand-in hash of the same cost, so both failures take the same time. `signal` as for hash().
   */
  verify(password: string, stored: string | undefined, signal?: AbortSignal): Promise<boolean>;
}

export interface HashingLimits {
  /**
   * Hashes computed at once. Each scrypt hash holds 128 * N * r bytes (8 MiB at the default
   * cost) while it runs on the thread pool, so this bounds the service's memory: a burst of
   * logins queues instead of taking 4 x 8 MiB (the whole pool) or more. Default 1: hashing is
   * CPU-bound, so more at once than cores adds memory, not throughput (and there are two replicas).
   */
  concurrency?: number;
  /** Hashes that may wait; past that a login or sign-up is refused with UNAVAILABLE and Retry-After. Default 256. */
  maxWaiting?: number;
}

export function createPasswordHasher(cost: ScryptCost, limits: HashingLimits = {}): PasswordHasher {
  const hashing = new Semaphore({ permits: limits.concurrency ?? 1, maxWaiting: limits.maxWaiting ?? 256, name: 'password hashing' });
  // Checked for unknown names: that derives a key at the full cost like any other check. Its own
  // key is random, not derived (no password needs to match it), which spares a full hash at
  // start-up, when everything else is starting too.
  const standIn = standInHash(cost);
  return {
    cost,
    hash: (password, signal) => hashing.run(() => hashPassword(password, cost), signal),
    verify: async (password, stored, signal) => {
      if (stored !== undefined) return hashing.run(() => verifyPassword(password, stored), signal);
      await hashing.run(() => verifyPassword(password, standIn), signal);
      return false;
    },
  };
}
