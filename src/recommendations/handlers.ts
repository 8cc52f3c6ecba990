import { notFound, invalidArgument } from '../platform/errors.js';
import type { RpcHandlers } from '../platform/rpc/server.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import { interestWeights, topInterests, viewCooldownMs } from './interests.js';
import { normaliseTag, normaliseTags } from '../contracts/tags.js';
import type { Clock } from '../platform/clock.js';
import { noFailpoints, type Failpoints } from '../platform/failpoints.js';
import { voteDeadline } from '../platform/db/two-phase.js';
import { mixRecommendations, planQuotas } from './recommend.js';
import type { RecommendationsRepository } from './recommendations.repository.js';

export interface RecommendationSettings {
  halfLifeMs: number;
  /** How many of the user's strongest interests drive the candidate search. */
  topInterests: number;
  /** At most this many newest eligible images per interest tag are scored (bounds the work per request). */
  candidatesPerTag: number;
  /** The most liked images re-ranked for recency. */
  popularPool: number;
}

export const defaultRecommendationSettings: Omit<RecommendationSettings, 'halfLifeMs'> = { topInterests: 10, candidatesPerTag: 64, popularPool: 200 };

const defaultLimit = 20;
const defaultTagLimit = 50;
/** Interest rows read per request; older, weaker ones beyond this hardly matter after decay. */
const maxInterestRows = 500;

/** Tags as the index keeps them: normalised, and sorted so concurrent writes lock rows in one order. */
export function indexTags(tags: readonly string[]): string[] {
  return normaliseTags(tags).sort();
}

export interface RecommendationsServiceDeps {
  repository: RecommendationsRepository;
  clock: Clock;
  settings: RecommendationSettings;
  /** Test-only crash points (EASEL_FAILPOINTS). */
  failpoints?: Failpoints;
}

/** The RPC handlers: input checks and the recommendation flow; SQL lives in the repository. */
export function createRecommendationsHandlers(deps: RecommendationsServiceDeps): RpcHandlers<RecommendationsContract['methods']> {
  const { repository, clock, settings } = deps;
  const failpoints = deps.failpoints ?? noFailpoints;

  return {
    async IndexImage(input) {
      const createdAt = new Date(input.createdAt);
      if (Number.isNaN(createdAt.getTime())) throw invalidArgument('createdAt: not a timestamp');
      await repository.indexImage({ imageId: input.imageId, authorId: input.authorId, tags: indexTags(input.tags), createdAt }, interestWeights.upload, new Date(clock.now()));
      return {};
    },

    async RetagImage(input) {
      if (!(await repository.retagImage(input.imageId, normaliseTags(input.tags)))) throw notFound('no such image');
      return {};
    },

    async UnindexImage(input) {
      await repository.unindexImage(input.imageId);
      return {};
    },

    async PrepareIndexImage(input, context) {
      const createdAt = new Date(input.createdAt);
      if (Number.isNaN(createdAt.getTime())) throw invalidArgument('createdAt: not a timestamp');
      await repository.prepareIndexImage(input.txId, { imageId: input.imageId, authorId: input.authorId, tags: indexTags(input.tags), createdAt }, interestWeights.upload, new Date(clock.now()), { deadline: voteDeadline(context.deadline) });
      failpoints.hit('recommendations.prepared');
      return {};
    },

    async PrepareUnindexImage(input, context) {
      await repository.prepareUnindexImage(input.txId, input.imageId, { deadline: voteDeadline(context.deadline) });
      failpoints.hit('recommendations.prepared');
      return {};
    },

    async CommitPrepared(input) {
      await repository.commitPrepared(input.txId);
      return {};
    },

    async AbortPrepared(input) {
      await repository.rollbackPrepared(input.txId);
      return {};
    },

    async RecordView(input) {
      // Views of unknown images are ignored: a view is a hint, never worth an error.
      const now = new Date(clock.now());
      await repository.recordView({ imageId: input.imageId, userId: input.userId, now, interest: interestWeights.view, cooldownStart: new Date(now.getTime() - viewCooldownMs) });
      return {};
    },

    async RecordViews(input) {
      const now = new Date(clock.now());
      await repository.recordViews({ views: input.views, now, interest: interestWeights.view, cooldownStart: new Date(now.getTime() - viewCooldownMs) });
      return {};
    },

    async Like(input) {
      const state = await repository.like(input.imageId, input.userId, new Date(clock.now()), interestWeights.like);
      if (!state) throw notFound('no such image');
      return { liked: state.liked, likes: state.likes };
    },

    async LikeState(input) {
      const state = await repository.likeState(input.imageId, input.userId);
      if (!state) throw notFound('no such image');
      return state;
    },

    async Unlike(input) {
      // Unliking what was not liked is answered with the current state: {liked: false, likes}.
      const state = await repository.unlike(input.imageId, input.userId, new Date(clock.now()), interestWeights.like);
      if (!state) throw notFound('no such image');
      return { liked: state.liked, likes: state.likes };
    },

    async LikeCounts(input) {
      const counts = await repository.likeCounts(input.imageIds);
      return { counts: Object.fromEntries(counts) };
    },

    async ListTags(input) {
      const prefix = normaliseTag(input.prefix ?? '');
      return { tags: await repository.listTags(prefix, input.limit ?? defaultTagLimit) };
    },

    async Recommend(input) {
      const limit = input.limit ?? defaultLimit;
      const userId = input.userId || undefined;
      const now = new Date(clock.now());
      const interests = userId
        ? topInterests(await repository.storedInterests(userId, maxInterestRows), now, settings.halfLifeMs, settings.topInterests)
        : [];
      const quotas = planQuotas(limit, interests.length > 0);
      // Each list is fetched at full length so that duplicates and a short list can be made up from the others.
      const [interest, { popular, newest }] = await Promise.all([
        userId && interests.length > 0
          ? repository.interestCandidates({ userId, interests, perTag: settings.candidatesPerTag, limit })
          : Promise.resolve([]),
        repository.generalCandidates({ userId, now, pool: settings.popularPool, limit }),
      ]);
      return { imageIds: mixRecommendations({ interest, popular, newest }, limit, quotas) };
    },
  };
}
