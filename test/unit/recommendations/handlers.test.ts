import { describe, expect, it } from 'vitest';
import type { RpcContext } from '../../../src/platform/rpc/server.js';
import type { RecommendationsRepository } from '../../../src/recommendations/recommendations.repository.js';
import { createRecommendationsHandlers, defaultRecommendationSettings } from '../../../src/recommendations/handlers.js';
import { daysToMs } from '../../../src/recommendations/interests.js';
import { manualClock } from '../../fakes/manual-clock.js';

// The handlers' flow over a recording fake repository: what is asked of the database, with which interests.

const halfLifeMs = daysToMs(14);
const now = new Date('2026-05-01T00:00:00Z');
const context = {} as RpcContext;

function fakeRepository(overrides: Partial<RecommendationsRepository> = {}) {
  const calls: Array<{ method: string; args: unknown }> = [];
  const record = (method: string, result: unknown) => async (...args: unknown[]) => {
    calls.push({ method, args: args.length === 1 ? args[0] : args });
    return result;
  };
  const repository = {
    indexImage: record('indexImage', true),
    unindexImage: record('unindexImage', true),
    recordView: record('recordView', undefined),
    like: record('like', undefined),
    unlike: record('unlike', undefined),
    likeCounts: record('likeCounts', new Map()),
    listTags: record('listTags', []),
    storedInterests: record('storedInterests', [
      { tag: 'watercolor', weight: 6, updatedAt: now },
      { tag: 'oil', weight: 40, updatedAt: new Date(now.getTime() - daysToMs(70)) },
    ]),
    interestCandidates: record('interestCandidates', ['w1', 'w2', 'w3']),
    generalCandidates: record('generalCandidates', { popular: ['p1', 'w1'], newest: ['n1'] }),
    ...overrides,
  } as RecommendationsRepository;
  const handlers = createRecommendationsHandlers({ repository, clock: manualClock(now.getTime()), settings: { halfLifeMs, ...defaultRecommendationSettings } });
  return { handlers, calls };
}

describe('Recommend', () => {
  it('searches with the decayed interests, strongest first, and mixes the lists without repeats', async () => {
    const { handlers, calls } = fakeRepository();
    const { imageIds } = await handlers.Recommend({ userId: 'u1', limit: 5 }, context);
    const search = calls.find((c) => c.method === 'interestCandidates')!.args as { interests: Array<{ tag: string; weight: number }> };
    // oil: 40 after five half-lives is 1.25, below watercolor's 6.
    expect(search.interests.map((i) => i.tag)).toEqual(['watercolor', 'oil']);
    expect(search.interests[1]!.weight).toBeCloseTo(1.25, 6);
    expect(imageIds).toEqual(['w1', 'w2', 'w3', 'p1', 'n1']);
  });

  it('does not look for interests of an anonymous user', async () => {
    const { handlers, calls } = fakeRepository();
    const { imageIds } = await handlers.Recommend({ limit: 4 }, context);
    expect(calls.map((c) => c.method)).not.toContain('storedInterests');
    expect(calls.map((c) => c.method)).not.toContain('interestCandidates');
    expect(imageIds).toEqual(['p1', 'n1', 'w1']);
  });
});

describe('likes and indexing', () => {
  it('answers NOT_FOUND for a like or unlike of an unknown image', async () => {
    const { handlers } = fakeRepository();
    await expect(handlers.Like({ imageId: 'x', userId: 'u' }, context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(handlers.Unlike({ imageId: 'x', userId: 'u' }, context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('indexes normalised tags and refuses a creation time that is not a timestamp', async () => {
    const { handlers, calls } = fakeRepository();
    await handlers.IndexImage({ imageId: 'i', authorId: 'a', tags: [' Ink', 'ink', 'Oil'], createdAt: '2026-04-01T00:00:00Z' }, context);
    expect((calls[0]!.args as unknown[])[0]).toMatchObject({ tags: ['ink', 'oil'] });
    await expect(handlers.IndexImage({ imageId: 'i', authorId: 'a', tags: [], createdAt: 'yesterday' }, context)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
