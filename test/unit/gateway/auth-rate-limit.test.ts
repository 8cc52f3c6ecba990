import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/platform/errors.js';
import { loadGatewayConfig } from '../../../src/gateway/config.js';
import { clientNetwork, createLoginRateLimiter, defaultLoginLimits, rateLimitsFrom, signupRateLimit, uploadRateLimit } from '../../../src/gateway/rate-limit.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { testClusterSecret } from '../../support/credentials.js';

const limits = { perNameAndAddress: 3, perName: 6, perAddress: 5, windowSeconds: 300 };

async function refusal(promise: Promise<unknown>): Promise<AppError | undefined> {
  return promise.then(() => undefined, (error: unknown) => error as AppError);
}

describe('login rate limit', () => {
  it('counts before the password is checked: of 40 concurrent guesses, only the limit get through', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), { ...limits, perNameAndAddress: 10, perName: 100, perAddress: 100 });
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => refusal(limiter.attempt('mario', '10.0.0.1'))));
    expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(10);
    expect(outcomes.filter((outcome) => outcome?.code === 'RATE_LIMITED')).toHaveLength(30);
  });

  it('refuses a name from one address after its attempts, with Retry-After, until the window ends; other addresses go on', async () => {
    let clock = 0;
    const limiter = createLoginRateLimiter(inMemorySharedState(() => clock), limits);
    for (let i = 0; i < 3; i++) await limiter.attempt('Mario', '10.0.0.1');
    expect(await refusal(limiter.attempt('mario', '10.0.0.1'))).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 300 });
    // The owner, elsewhere, is not locked out by someone guessing from one place.
    expect(await refusal(limiter.attempt('Mario', '10.0.0.2'))).toBeUndefined();
    clock += 300_000;
    expect(await refusal(limiter.attempt('Mario', '10.0.0.1'))).toBeUndefined();
  });

  it('has a per-name ceiling above the per-address limit for a guesser spread over many addresses', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let i = 0; i < 6; i++) expect(await refusal(limiter.attempt('Mario', `10.0.${i}.1`))).toBeUndefined();
    expect(await refusal(limiter.attempt('Mario', '10.0.99.1'))).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('refuses an address after its attempts across names', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let i = 0; i < 5; i++) await limiter.attempt(`name-${i}`, '10.0.0.1');
    expect(await refusal(limiter.attempt('someone-new', '10.0.0.1'))).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await refusal(limiter.attempt('someone-new', '10.0.0.2'))).toBeUndefined();
  });

  it('counts an IPv6 client by its /64: a new address in the same network gets no fresh budget', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let i = 1; i <= 3; i++) await limiter.attempt('Mario', `2001:db8:1:2::${i}`);
    expect(await refusal(limiter.attempt('Mario', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff'))).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await refusal(limiter.attempt('Mario', '2001:db8:1:3::1'))).toBeUndefined();
  });

  it('gives back an attempt that was not a wrong guess', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let round = 0; round < 10; round++) {
      expect(await refusal(limiter.attempt('Mario', '10.0.0.1'))).toBeUndefined();
      await limiter.giveBack('Mario', '10.0.0.1');
    }
  });
});

describe('client networks', () => {
  const table: Array<[string, string]> = [
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0DB8:0000:0001:1:2:3:4', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ];
  for (const [address, network] of table) it(`${address} -> ${network}`, () => expect(clientNetwork(address)).toBe(network));
});

describe('sign-up rate limit', () => {
  it('allows perAddress sign-ups per window from one network, then RATE_LIMITED', async () => {
    const state = inMemorySharedState(() => 0);
    const signups = { perAddress: 2, windowSeconds: 3600 };
    await signupRateLimit(state, '10.0.0.1', signups);
    await signupRateLimit(state, '10.0.0.1', signups);
    expect(await refusal(signupRateLimit(state, '10.0.0.1', signups))).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 3600 });
    expect(await refusal(signupRateLimit(state, '10.0.0.2', signups))).toBeUndefined();
  });
});

describe('upload rate limit', () => {
  it('allows perUser uploads per window per user, then answers RATE_LIMITED with Retry-After', async () => {
    let clock = 0;
    const deps = { sharedState: inMemorySharedState(() => clock) };
    const uploads = { perUser: 2, windowSeconds: 60 };
    await uploadRateLimit(deps, { userId: 'u1' }, uploads);
    await uploadRateLimit(deps, { userId: 'u1' }, uploads);
    expect(await refusal(uploadRateLimit(deps, { userId: 'u1' }, uploads))).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 60 });
    expect(await refusal(uploadRateLimit(deps, { userId: 'u2' }, uploads))).toBeUndefined();
    clock += 60_000;
    expect(await refusal(uploadRateLimit(deps, { userId: 'u1' }, uploads))).toBeUndefined();
  });
});

describe('rateLimitsFrom', () => {
  it('takes the limits from the gateway config, with the documented defaults', () => {
    expect(rateLimitsFrom(loadGatewayConfig({ CLUSTER_SECRET: testClusterSecret })).login).toEqual(defaultLoginLimits);
    const limits = rateLimitsFrom(loadGatewayConfig({ CLUSTER_SECRET: testClusterSecret, LOGIN_FAILURES_PER_NAME: '4', UPLOADS_PER_USER: '7' }));
    expect(limits.login).toEqual({ ...defaultLoginLimits, perName: 4 });
    expect(limits.upload.perUser).toBe(7);
  });
});
