import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Logger } from '../platform/log.js';
import type { Clock } from '../platform/clock.js';
import { generateSigningKeyMaterial, loadSigningKey, type SigningKey } from './tokens.js';
import type { SigningKeysRepository, StoredSigningKey } from './signing-keys.repository.js';

// The access-token signing keys, kept in users.signing_keys with the private half sealed
// (AES-256-GCM under a key derived with HKDF from SIGNING_KEY_SECRET, which only the users
// service holds): someone who reads the table, a backup or a replica learns nothing that signs.
//
// Rotation: a new key is published at once but signs only after `publishLeadSeconds`, so the
// gateway (which re-fetches keys at most every 30 s) knows it before the first token carrying it
// arrives; from then on the newest key signs. Older ones stay published (SigningKeys) until every
// token they signed has expired, then they are retired (deleted). Every replica re-reads the
// table every `refreshSeconds`, so the one that rotates (under an advisory lock) is followed
// within that time; retirement waits for the lead, the token lifetime, that delay and clock skew.

export interface SigningKeys {
  /** The key new tokens are signed with. */
  current(): SigningKey;
  /** Every public key a token still in circulation may carry, newest first. */
  published(): JWK[];
}

/** For unit tests and tools: one key, nothing stored. */
export function fixedSigningKeys(key: SigningKey): SigningKeys {
  return { current: () => key, published: () => [key.publicJwk] };
}

const sealVersion = 1;
const ivBytes = 12;
const tagBytes = 16;

/** The AES-256 key for sealing private keys, derived from the service's secret. */
export function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('easel users signing keys'), Buffer.from('aes-256-gcm private jwk v1'), 32));
}

/** version byte, IV, ciphertext, tag; the key id is authenticated with it, so a sealed key cannot be moved to another row. */
export function sealPrivateJwk(key: Buffer, kid: string, privateJwk: JWK): Buffer {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(privateJwk), 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([sealVersion]), iv, ciphertext, cipher.getAuthTag()]);
}

/** Throws when the secret, the key id or a single byte is not the one it was sealed with. */
export function openPrivateJwk(key: Buffer, kid: string, sealed: Buffer): JWK {
  if (sealed.length < 1 + ivBytes + tagBytes + 1 || sealed[0] !== sealVersion) throw new Error(`signing key ${kid}: unknown sealed format`);
  const iv = sealed.subarray(1, 1 + ivBytes);
  const tag = sealed.subarray(sealed.length - tagBytes);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(tag);
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(1 + ivBytes, sealed.length - tagBytes)), decipher.final()]);
  return JSON.parse(plaintext.toString('utf8')) as JWK;
}

export interface SigningKeyRingOptions {
  repo: SigningKeysRepository;
  secret: string;
  clock: Clock;
  logger: Logger;
  accessTokenTtlSeconds: number;
  /** A key older than this is replaced by a new one. */
  rotationSeconds: number;
  /** How often every replica re-reads the keys (and checks whether one is due for rotation). */
  refreshSeconds: number;
  /** How long a new key is published before it signs. Default 60 s. */
  publishLeadSeconds?: number;
}

export interface SigningKeyRing extends SigningKeys {
  /** Rotates now (an operator's "rotate"); the old key stays published until retired. */
  rotate(): Promise<void>;
  /** Re-reads the table (what the timer does). */
  refresh(): Promise<void>;
  close(): void;
}

/** Tolerated clock difference between the users replicas and the gateway. */
const skewSeconds = 60;

/**
 * Opens the ring: seals any key an older version stored in plaintext, creates the first key or
 * rotates an old one, retires keys whose tokens have all expired, and loads what is left.
 * Throws when no stored key opens with `secret` and none can be made.
 */
export async function openSigningKeyRing(options: SigningKeyRingOptions): Promise<SigningKeyRing> {
  const key = sealingKey(options.secret);
  const { repo, clock, logger } = options;
  let current: SigningKey | undefined;
  let published: JWK[] = [];
  let timer: NodeJS.Timeout | undefined;

  const leadMs = (options.publishLeadSeconds ?? 60) * 1000;
  const retireAfterMs = leadMs + (options.accessTokenTtlSeconds + options.refreshSeconds + skewSeconds) * 1000;

  /** One replica at a time: the whole bookkeeping runs under the repository's lock. */
  const maintain = (forceRotation: boolean) => repo.underLock(async (locked) => {
    const now = new Date(clock.now());
    let rows = await locked.list();
    for (const row of rows) {
      if (row.privateJwk) {
        // Written by a version that kept it in plaintext: seal it and forget the plaintext.
        await locked.seal(row.kid, sealPrivateJwk(key, row.kid, row.privateJwk));
        logger.info({ kid: row.kid }, 'signing key sealed at rest');
      }
    }
    await locked.deleteRetired(now);
    rows = await locked.list();
    const active = rows.filter((row) => row.retireAt === null);
    const newest = active[0];
    const opens = newest !== undefined && canOpen(key, newest);
    const old = newest !== undefined && now.getTime() - newest.createdAt.getTime() >= options.rotationSeconds * 1000;
    if (!newest || !opens || old || forceRotation) {
      const material = await generateSigningKeyMaterial();
      await locked.insert({ kid: material.kid, sealed: sealPrivateJwk(key, material.kid, material.privateJwk), publicJwk: material.publicJwk, createdAt: now });
      await locked.retireOthers(material.kid, new Date(now.getTime() + retireAfterMs));
      logger.info({ kid: material.kid, reason: !newest ? 'first key' : !opens ? 'stored key does not open with SIGNING_KEY_SECRET' : old ? 'due for rotation' : 'rotation asked for' }, 'signing key rotated');
    }
  });

  const load = async () => {
    const rows = await repo.list();
    const now = clock.now();
    const live = rows.filter((row) => row.retireAt === null || row.retireAt.getTime() > now);
    // Newest first: the newest that has been published long enough; else the oldest that opens
    // (the one that signed so far, or on a first start, or when only a new key opens, that one).
    const usable = live.filter((row) => canOpen(key, row));
    const signer = usable.find((row) => row.createdAt.getTime() <= now - leadMs) ?? usable.at(-1);
    if (!signer?.sealed) throw new Error('no stored signing key opens with SIGNING_KEY_SECRET');
    current = await loadSigningKey({ kid: signer.kid, privateJwk: openPrivateJwk(key, signer.kid, signer.sealed), publicJwk: signer.publicJwk });
    published = live.map((row) => row.publicJwk);
  };

  const refresh = async () => {
    await maintain(false);
    await load();
  };
  await refresh();

  const schedule = () => {
    timer = setTimeout(() => {
      refresh()
        .catch((error: unknown) => logger.warn({ err: error }, 'could not refresh the signing keys; keeping the ones loaded'))
        .finally(schedule);
    }, options.refreshSeconds * 1000);
    timer.unref();
  };
  schedule();

  return {
    current: () => current!,
    published: () => published,
    rotate: async () => {
      await maintain(true);
      await load();
    },
    refresh,
    close: () => clearTimeout(timer),
  };
}

function canOpen(key: Buffer, row: StoredSigningKey): boolean {
  if (!row.sealed) return false;
  try {
    openPrivateJwk(key, row.kid, row.sealed);
    return true;
  } catch {
    return false;
  }
}
