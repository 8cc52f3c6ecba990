import { describe, expect, it } from 'vitest';
import { openPrivateJwk, openSigningKeyRing, sealingKey, sealPrivateJwk } from '../../../src/users/signing-keys.js';
import type { SigningKeysRepository, StoredSigningKey } from '../../../src/users/signing-keys.repository.js';
import { generateSigningKeyMaterial } from '../../../src/users/tokens.js';
import { createLogger } from '../../../src/platform/log.js';
import { systemClock } from '../../../src/platform/clock.js';

// The sealing and the rotation schedule, over an in-memory table (the real one:
// test/security/datastores.test.ts).

function memoryRepo(): SigningKeysRepository & { rows: StoredSigningKey[] } {
  const rows: StoredSigningKey[] = [];
  const repo: SigningKeysRepository & { rows: StoredSigningKey[] } = {
    rows,
    list: async () => [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map((r) => ({ ...r })),
    underLock: (work) => work(repo),
    insert: async ({ kid, sealed, publicJwk, createdAt }) => void rows.push({ kid, sealed, privateJwk: null, publicJwk, createdAt, retireAt: null }),
    seal: async (kid, sealed) => {
      const row = rows.find((r) => r.kid === kid)!;
      row.sealed = sealed;
      row.privateJwk = null;
    },
    retireOthers: async (kid, at) => {
      for (const row of rows) if (row.kid !== kid && row.retireAt === null) row.retireAt = at;
    },
    deleteRetired: async (now) => {
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.retireAt !== null && rows[i]!.retireAt!.getTime() <= now.getTime()) rows.splice(i, 1);
    },
  };
  return repo;
}

const logger = createLogger({ name: 'signing-keys-test', level: 'silent' });
const secret = 'unit test signing key secret, long enough 0123456789';

describe('sealing a private key', () => {
  it('opens with the same secret and key id only, and its bytes do not contain the key', async () => {
    const material = await generateSigningKeyMaterial();
    const sealed = sealPrivateJwk(sealingKey(secret), material.kid, material.privateJwk);
    expect(sealed.includes(Buffer.from(material.privateJwk.d!, 'base64url'))).toBe(false);
    expect(sealed.toString('latin1')).not.toContain(material.privateJwk.d!);
    expect(openPrivateJwk(sealingKey(secret), material.kid, sealed)).toEqual(material.privateJwk);
    expect(() => openPrivateJwk(sealingKey(`${secret}!`), material.kid, sealed)).toThrow();
    expect(() => openPrivateJwk(sealingKey(secret), 'other', sealed)).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[20]! ^= 1;
    expect(() => openPrivateJwk(sealingKey(secret), material.kid, tampered)).toThrow();
  });
});

describe('the signing key ring', () => {
  it('rotates by age: publishes the new key first, signs with it after the lead, retires the old one after the token lifetime', async () => {
    let now = Date.UTC(2031, 5, 1);
    const repo = memoryRepo();
    const open = () => openSigningKeyRing({ repo, secret, clock: { ...systemClock, now: () => now }, logger, accessTokenTtlSeconds: 900, rotationSeconds: 86_400, refreshSeconds: 60, publishLeadSeconds: 60 });
    const ring = await open();
    try {
      const first = ring.current().kid;
      expect(ring.published().map((k) => k.kid)).toEqual([first]);
      expect(repo.rows.every((r) => r.privateJwk === null && r.sealed !== null)).toBe(true);

      now += 86_400_000; // due
      await ring.refresh();
      const second = ring.published()[0]!.kid!;
      expect(second).not.toBe(first);
      expect(ring.published().map((k) => k.kid)).toEqual([second, first]);
      expect(ring.current().kid).toBe(first); // not before the lead
      now += 60_000;
      await ring.refresh();
      expect(ring.current().kid).toBe(second);
      now += (900 + 60 + 60) * 1000 - 1;
      await ring.refresh();
      expect(ring.published().map((k) => k.kid)).toEqual([second, first]); // a token signed just before the switch may still be valid
      now += 1;
      await ring.refresh();
      expect(ring.published().map((k) => k.kid)).toEqual([second]);
      expect(repo.rows.map((r) => r.kid)).toEqual([second]);
    } finally {
      ring.close();
    }
  });

  it('starts a new key at once when the stored ones do not open with its secret, keeping the old public keys published', async () => {
    let now = Date.UTC(2031, 5, 1);
    const repo = memoryRepo();
    const clock = { ...systemClock, now: () => now };
    const settings = { repo, clock, logger, accessTokenTtlSeconds: 900, rotationSeconds: 86_400, refreshSeconds: 60 };
    const before = await openSigningKeyRing({ ...settings, secret });
    before.close();
    now += 1_000;
    const after = await openSigningKeyRing({ ...settings, secret: 'a rotated signing key secret, also long enough 987' });
    after.close();
    expect(after.current().kid).not.toBe(before.current().kid);
    expect(after.published().map((k) => k.kid)).toEqual([after.current().kid, before.current().kid]);
  });
});
