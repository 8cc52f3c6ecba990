import { describe, expect, it } from 'vitest';
import { createPasswordHasher, hashPassword, needsRehash, scryptCost, standInHash, verifyPassword } from '../../../src/users/passwords.js';

// A low cost keeps these fast; the production cost is measured in bench/login.bench.ts.
const cheap = scryptCost(10);

describe('password hashing', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse', cheap);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horsE', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('stores the parameters with the hash and a fresh salt every time', async () => {
    const first = await hashPassword('same password', cheap);
    const second = await hashPassword('same password', cheap);
    expect(first).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(first).not.toBe(second);
    expect(first).not.toContain('same password');
  });

  it('verifies a hash made with other parameters, and says it needs re-hashing', async () => {
    const old = await hashPassword('pw with old cost', scryptCost(11));
    expect(await verifyPassword('pw with old cost', old)).toBe(true);
    expect(needsRehash(old, cheap)).toBe(true);
    expect(needsRehash(await hashPassword('x', cheap), cheap)).toBe(false);
  });

  it('hashes from before the parallelism setting (p=1) still log in, and are re-hashed with p=2', async () => {
    const parallel = scryptCost(10, 2);
    const before = await hashPassword('pw from before', scryptCost(10));
    expect(await verifyPassword('pw from before', before)).toBe(true);
    expect(needsRehash(before, parallel)).toBe(true);
    const after = await hashPassword('pw from before', parallel);
    expect(after).toMatch(/^\$scrypt\$ln=10,r=8,p=2\$/);
    expect(await verifyPassword('pw from before', after)).toBe(true);
    expect(await verifyPassword('pw from befor', after)).toBe(false);
    expect(needsRehash(after, parallel)).toBe(false);
  });

  it('never matches a malformed stored hash', async () => {
    for (const stored of ['', 'plaintext', '$scrypt$ln=10,r=8,p=1$$', '$scrypt$ln=99,r=8,p=1$AAAA$AAAA', '$bcrypt$10$abc']) {
      expect(await verifyPassword('plaintext', stored), stored).toBe(false);
    }
  });

  it('treats passwords as Unicode text: composed and decomposed forms are the same password', async () => {
    const stored = await hashPassword('caf\u00e9-password', cheap);
    expect(await verifyPassword('cafe\u0301-password', stored)).toBe(true);
  });

  it('a hasher refuses an unknown user (no stored hash) after doing the same work', async () => {
    const hasher = createPasswordHasher(cheap);
    expect(await hasher.verify('anything at all', undefined)).toBe(false);
    expect(await hasher.verify('anything at all', await hasher.hash('anything at all'))).toBe(true);
  });

  it('the stand-in hash for unknown names carries the configured cost (a check against it derives a key at that cost) and matches nothing', async () => {
    const cost = scryptCost(11, 2);
    const standIn = standInHash(cost);
    expect(needsRehash(standIn, cost)).toBe(false);
    expect(standIn).not.toBe(standInHash(cost));
    expect(await verifyPassword('', standIn)).toBe(false);
  });

  it('bounds the hashes in flight (8 MiB each at the default cost): a burst queues, and past the queue is refused with UNAVAILABLE', async () => {
    // Nothing queued at construction: the stand-in hash for unknown names is not derived.
    const hasher = createPasswordHasher(cheap, { concurrency: 1, maxWaiting: 1 });
    const burst = await Promise.allSettled([hasher.hash('one password'), hasher.hash('two password'), hasher.hash('three password')]);
    expect(burst.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((burst[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('drops a queued hash whose caller stopped waiting, before the one ahead of it is done', async () => {
    const hasher = createPasswordHasher(cheap, { concurrency: 1 });
    const stopped = new AbortController();
    const first = hasher.hash('one password');
    const queued = hasher.verify('two password', undefined, stopped.signal);
    stopped.abort(new Error('the caller gave up'));
    const order: string[] = [];
    await Promise.allSettled([first.then(() => order.push('first done')), queued.catch((error: Error) => order.push(error.message))]);
    expect(order).toEqual(['the caller gave up', 'first done']);
  });
});
