import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/platform/errors.js';
import { loadGatewayConfig } from '../../../src/gateway/config.js';
import { createLoginRateLimiter, defaultLoginLimits, rateLimitsFrom, uploadRateLimit } from '../../../src/gateway/rate-limit.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { testClusterSecret } from '../../support/credentials.js';

const limits = { perName: 3, perAddress: 5, windowSeconds: 300 };

async function refusal(promise: Promise<unknown>): Promise<AppError | undefined> {
  return promise.then(() => undefined, (error: unknown) => error as AppError);
}

describe('login rate limit', () => {
  it('refuses a name after its failures, with Retry-After, until the window ends', async () => {
    let clock = 0;
    const limiter = createLoginRateLimiter(inMemorySharedState(() => clock), limits);
    for (let i = 0; i < 3; i++) {
      await limiter.check('Mario', `10.0.0.${i}`);
      await limiter.recordFailure('Mario', `10.0.0.${i}`);
    }
    const refused = await refusal(limiter.check('Mario', '10.0.0.99'));
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 300 });
    expect(await refusal(limiter.check('Luigi', '10.0.0.99'))).toBeUndefined();
    clock += 300_000;
    expect(await refusal(limiter.check('Mario', '10.0.0.99'))).toBeUndefined();
  });

  it('refuses an address after its failures across names', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let i = 0; i < 5; i++) await limiter.recordFailure(`name-${i}`, '10.0.0.1');
    expect(await refusal(limiter.check('someone-new', '10.0.0.1'))).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await refusal(limiter.check('someone-new', '10.0.0.2'))).toBeUndefined();
  });

  it('a successful login clears the name\'s count', async () => {
    const limiter = createLoginRateLimiter(inMemorySharedState(() => 0), limits);
    for (let i = 0; i < 2; i++) await limiter.recordFailure('Mario', `10.0.0.${i}`);
    await limiter.recordSuccess('Mario');
    for (let i = 0; i < 2; i++) await limiter.recordFailure('Mario', `10.0.1.${i}`);
    expect(await refusal(limiter.check('Mario', '10.0.2.1'))).toBeUndefined();
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
