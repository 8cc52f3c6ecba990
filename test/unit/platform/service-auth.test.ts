import { describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { hkdfSync } from 'node:crypto';
import { ServiceCredentials, newNonce } from '../../../src/platform/service-auth.js';
import { manualClock } from '../../fakes/manual-clock.js';

// Service tokens, user assertions and answer MACs from the cluster secret, on a clock the test moves.

const secret = 'unit-test-cluster-secret-0123456789';
const start = Date.UTC(2030, 0, 1);

function make(service = 'USER SERVICE', instance = 'users-1', options: { secret?: string } = {}) {
  const clock = manualClock(start);
  return { clock, credentials: new ServiceCredentials({ clusterSecret: options.secret ?? secret, identity: { service, instance }, clock }) };
}

describe('service tokens', () => {
  it('name the service, instance and audience, and verify with the same secret only', () => {
    const { credentials, clock } = make();
    const token = credentials.tokenFor('IMAGE SERVICE');
    const callee = new ServiceCredentials({ clusterSecret: secret, identity: { service: 'IMAGE SERVICE', instance: 'images-1' }, clock });
    expect(callee.verifyService(token, 'IMAGE SERVICE')).toEqual({ service: 'USER SERVICE', instance: 'users-1', expiresAt: start / 1000 + 300 });
    expect(callee.verifyService(token, 'RECOMMENDATION SERVICE')).toBeUndefined();
    const stranger = new ServiceCredentials({ clusterSecret: 'another-cluster-secret-0123456789', identity: { service: 'IMAGE SERVICE', instance: 'x' }, clock });
    expect(stranger.verifyService(token, 'IMAGE SERVICE')).toBeUndefined();
  });

  it('are standard HS256 JWTs (jose verifies them with the derived key)', async () => {
    const { credentials } = make();
    const token = credentials.tokenFor('IMAGE SERVICE');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodeJwt(token)).toMatchObject({ iss: 'USER SERVICE', sub: 'users-1', aud: 'IMAGE SERVICE' });
    const key = new Uint8Array(hkdfSync('sha256', secret, 'easel cluster', 'easel service token v1', 32));
    await expect(jwtVerify(token, key, { currentDate: new Date(start) })).resolves.toBeTruthy();
  });

  it('are reused per audience until a fifth of their life is left, then renewed', () => {
    const { credentials, clock } = make();
    const first = credentials.tokenFor('IMAGE SERVICE');
    expect(credentials.tokenFor('IMAGE SERVICE')).toBe(first);
    expect(credentials.tokenFor('RECOMMENDATION SERVICE')).not.toBe(first);
    clock.advance(239_000);
    expect(credentials.tokenFor('IMAGE SERVICE')).toBe(first);
    clock.advance(2_000);
    expect(credentials.tokenFor('IMAGE SERVICE')).not.toBe(first);
  });

  it('expire (after a 30 s tolerance for clocks), also when remembered as verified', () => {
    const { credentials, clock } = make();
    const token = credentials.tokenFor('IMAGE SERVICE');
    expect(credentials.verifyService(token, 'IMAGE SERVICE')).toBeDefined();
    clock.advance(329_000);
    expect(credentials.verifyService(token, 'IMAGE SERVICE')).toBeDefined();
    clock.advance(2_000);
    expect(credentials.verifyService(token, 'IMAGE SERVICE')).toBeUndefined();
  });

  it('refuse tampering, other algorithms, garbage and oversized input', () => {
    const { credentials } = make();
    const token = credentials.tokenFor('IMAGE SERVICE');
    const [header, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), iss: 'GATEWAY' })).toString('base64url');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    for (const bad of [`${header}.${forged}.${mac}`, `${none}.${payload}.`, `${none}.${payload}.${mac}`, 'x.y.z', '', 'a'.repeat(10_000), `${header}.${payload}`]) {
      expect(credentials.verifyService(bad, 'IMAGE SERVICE')).toBeUndefined();
    }
  });

  it('refuse a token issued in the future or claiming a long life', () => {
    const early = make();
    const later = new ServiceCredentials({ clusterSecret: secret, identity: { service: 'GATEWAY', instance: 'g' }, clock: { now: () => start + 120_000 } });
    expect(early.credentials.verifyService(later.tokenFor('USER SERVICE'), 'USER SERVICE')).toBeUndefined();
    const long = new ServiceCredentials({ clusterSecret: secret, identity: { service: 'GATEWAY', instance: 'g' }, clock: early.clock, tokenTtlSeconds: 86_400 });
    expect(early.credentials.verifyService(long.tokenFor('USER SERVICE'), 'USER SERVICE')).toBeUndefined();
  });
});

describe('user assertions', () => {
  it('carry the user to the callee for a minute, for that callee only', () => {
    const { credentials: gateway, clock } = make('GATEWAY', 'gateway-1');
    const images = new ServiceCredentials({ clusterSecret: secret, identity: { service: 'IMAGE SERVICE', instance: 'images-1' }, clock });
    const assertion = gateway.assertUser({ userId: 'u-1', name: 'mario', sessionId: 's-1' }, 'IMAGE SERVICE');
    expect(images.verifyUser(assertion, 'IMAGE SERVICE')).toEqual({ userId: 'u-1', name: 'mario', sessionId: 's-1' });
    expect(images.verifyUser(assertion, 'USER SERVICE')).toBeUndefined();
    clock.advance(91_000);
    expect(images.verifyUser(assertion, 'IMAGE SERVICE')).toBeUndefined();
  });

  it('are not service tokens, and service tokens are not assertions (one key per purpose)', () => {
    const { credentials } = make('GATEWAY', 'gateway-1');
    const assertion = credentials.assertUser({ userId: 'u-1', name: 'mario' }, 'IMAGE SERVICE');
    expect(credentials.verifyService(assertion, 'IMAGE SERVICE')).toBeUndefined();
    expect(credentials.verifyUser(credentials.tokenFor('IMAGE SERVICE'), 'IMAGE SERVICE')).toBeUndefined();
  });
});

describe('answer MACs', () => {
  it('bind a body to the nonce of the question', () => {
    const { credentials } = make();
    const nonce = newNonce();
    const mac = credentials.answerMac(nonce, '{"keys":[]}');
    expect(credentials.verifyAnswer(nonce, Buffer.from('{"keys":[]}'), mac)).toBe(true);
    expect(credentials.verifyAnswer(nonce, '{"keys":[1]}', mac)).toBe(false);
    expect(credentials.verifyAnswer(newNonce(), '{"keys":[]}', mac)).toBe(false);
    expect(credentials.verifyAnswer(nonce, '{"keys":[]}', undefined)).toBe(false);
    expect(make('X', 'x', { secret: 'another-cluster-secret-0123456789' }).credentials.verifyAnswer(nonce, '{"keys":[]}', mac)).toBe(false);
  });
});
