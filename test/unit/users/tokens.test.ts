import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { accessTokenClaims } from '../../../src/contracts/users.js';
import { judgeRefreshToken } from '../../../src/users/accounts.js';
import { generateSigningKeyMaterial, issueAccessToken, loadSigningKey, newRefreshToken, refreshTokenDigest } from '../../../src/users/tokens.js';

describe('access tokens', () => {
  it('are EdDSA JWTs with the key id, subject, name, session, id and expiry, verifiable with the public key alone', async () => {
    const material = await generateSigningKeyMaterial();
    const key = await loadSigningKey(material);
    const now = 1_800_000_000;
    const issued = await issueAccessToken(key, { userId: 'u-1', name: 'Mario', sessionId: 's-1' }, now, 900);
    expect(issued.expiresAt).toBe(now + 900);
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'EdDSA', kid: material.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(issued.token, createLocalJWKSet({ keys: [material.publicJwk] }), {
      algorithms: ['EdDSA'], issuer: accessTokenClaims.issuer, audience: accessTokenClaims.audience, currentDate: new Date((now + 60) * 1000),
    });
    expect(payload).toMatchObject({ sub: 'u-1', name: 'Mario', sid: 's-1', jti: issued.tokenId, iat: now, exp: now + 900 });
  });

  it('publish only the public half of the key', async () => {
    const material = await generateSigningKeyMaterial();
    expect(material.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: material.kid, alg: 'EdDSA', use: 'sig' });
    expect(material.publicJwk).not.toHaveProperty('d');
    expect(material.privateJwk).toHaveProperty('d');
  });
});

describe('refresh tokens', () => {
  it('are 256 random bits, stored only as their sha256', () => {
    const token = newRefreshToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newRefreshToken()).not.toBe(token);
    expect(refreshTokenDigest(token)).toHaveLength(32);
    expect(refreshTokenDigest(token).equals(refreshTokenDigest(token))).toBe(true);
  });

  it('are judged valid, unknown, expired, revoked or reused', () => {
    const now = Date.UTC(2030, 0, 1);
    const fresh = { expiresAt: new Date(now + 1000), usedAt: null, revokedAt: null };
    expect(judgeRefreshToken(fresh, now)).toBe('valid');
    expect(judgeRefreshToken(undefined, now)).toBe('unknown');
    expect(judgeRefreshToken({ ...fresh, expiresAt: new Date(now) }, now)).toBe('expired');
    expect(judgeRefreshToken({ ...fresh, usedAt: new Date(now - 1) }, now)).toBe('reused');
    expect(judgeRefreshToken({ ...fresh, usedAt: new Date(now - 1), revokedAt: new Date(now - 1) }, now)).toBe('revoked');
  });
});
