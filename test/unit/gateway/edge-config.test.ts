import { describe, expect, it } from 'vitest';
import { loadGatewayConfig, secureCookies } from '../../../src/gateway/config.js';
import { testClusterSecret } from '../../support/credentials.js';

const load = (env: Record<string, string>) => loadGatewayConfig({ CLUSTER_SECRET: testClusterSecret, ...env });

// The gateway's edge settings: who may say what the client address is, and when cookies are Secure.

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default', () => {
    expect(load({}).TRUST_PROXY).toBe(false);
  });
  it('takes addresses and CIDR ranges, or a hop count', () => {
    expect(load({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
    const byHops = load({ TRUST_PROXY: '1' }).TRUST_PROXY as (address: string, hop: number) => boolean;
    expect([byHops('x', 0), byHops('x', 1)]).toEqual([true, false]);
  });
  it('refuses what is not an address', () => {
    expect(() => load({ TRUST_PROXY: 'proxy.example' })).toThrow(/not an address/);
  });
});

describe('Secure cookies', () => {
  it('are on by default outside local development, off on loopback, and as configured when set', () => {
    expect(secureCookies(load({}))).toBe(false);
    expect(secureCookies(load({ HOST: '0.0.0.0' }))).toBe(true);
    expect(secureCookies(load({ HOST: '0.0.0.0', COOKIE_SECURE: 'false' }))).toBe(false);
    expect(secureCookies(load({ COOKIE_SECURE: 'true' }))).toBe(true);
  });
});

describe('IMAGE_GENERATION_LEASE_MS', () => {
  it('is 100 ms by default, may be 0, and is refused past a second (every change waits that long)', () => {
    expect(load({}).IMAGE_GENERATION_LEASE_MS).toBe(100);
    expect(load({ IMAGE_GENERATION_LEASE_MS: '0' }).IMAGE_GENERATION_LEASE_MS).toBe(0);
    expect(() => load({ IMAGE_GENERATION_LEASE_MS: '5000' })).toThrow(/IMAGE_GENERATION_LEASE_MS/);
  });
});
