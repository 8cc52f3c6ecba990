import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { accessTokenClaims } from '../contracts/users.js';

// Access tokens: short-lived EdDSA JWTs the gateway verifies locally with our public key.
// Refresh tokens: opaque random strings; only their sha256 is stored.

export interface SigningKeyMaterial {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  /** What SigningKeys hands out: the public half only. */
  publicJwk: JWK;
}

/** A fresh Ed25519 key pair; the key id is the public key's RFC 7638 thumbprint. */
export async function generateSigningKeyMaterial(): Promise<SigningKeyMaterial> {
  const { privateKey, publicKey } = await generateKeyPair(accessTokenClaims.algorithm, { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateJwk: await exportJWK(privateKey), publicJwk: { ...publicJwk, kid, alg: accessTokenClaims.algorithm, use: 'sig' } };
}

export async function loadSigningKey(material: SigningKeyMaterial): Promise<SigningKey> {
  const privateKey = await importJWK(material.privateJwk, accessTokenClaims.algorithm);
  if (privateKey instanceof Uint8Array) throw new Error('signing key is not an asymmetric key');
  return { kid: material.kid, privateKey, publicJwk: material.publicJwk };
}

export interface AccessTokenSubject {
  userId: string;
  name: string;
  /** The refresh-token family this login belongs to, so logout can revoke it from the access token alone. */
  sessionId: string;
}

export interface IssuedAccessToken {
  token: string;
  tokenId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export async function issueAccessToken(key: SigningKey, subject: AccessTokenSubject, nowSeconds: number, ttlSeconds: number): Promise<IssuedAccessToken> {
  const tokenId = randomUUID();
  const expiresAt = nowSeconds + ttlSeconds;
  const token = await new SignJWT({ name: subject.name, sid: subject.sessionId })
    .setProtectedHeader({ alg: accessTokenClaims.algorithm, kid: key.kid, typ: 'JWT' })
    .setSubject(subject.userId)
    .setJti(tokenId)
    .setIssuer(accessTokenClaims.issuer)
    .setAudience(accessTokenClaims.audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(expiresAt)
    .sign(key.privateKey);
  return { token, tokenId, expiresAt };
}

/** 256 random bits, URL-safe. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored and looked up instead of the refresh token itself. */
export function refreshTokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
