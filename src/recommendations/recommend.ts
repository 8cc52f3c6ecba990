// Mixing recommendation lists. Interest matches come first (the user asked for these), then
// popular and newest images alternate, so that new artists get seen even by users with strong
// interests. Each list is already ranked; the mix removes duplicates and fills any shortfall
// from the other lists.

export interface CandidateLists {
  /** Images matching the user's interests, best first (empty for anonymous or new users). */
  interest: readonly string[];
  /** Liked images, weighted towards recent ones. */
  popular: readonly string[];
  /** Newest uploads first. */
  newest: readonly string[];
}

export interface Quotas {
  interest: number;
  popular: number;
  newest: number;
}

export interface MixShares {
  /** Fractions of the list for popular and newest images when the user has interests; the rest is interest matches. */
  popular: number;
  newest: number;
}

export const defaultShares: MixShares = { popular: 0.15, newest: 0.15 };

/**
 * How many of `limit` places each list gets. With interests, about 70/15/15, but at least one
 * newest image from two places up and one popular from three up. Without interests: half popular, half newest.
 */
export function planQuotas(limit: number, hasInterests: boolean, shares: MixShares = defaultShares): Quotas {
  if (limit <= 0) return { interest: 0, popular: 0, newest: 0 };
  if (!hasInterests) {
    const popular = Math.ceil(limit / 2);
    return { interest: 0, popular, newest: limit - popular };
  }
  const newest = limit >= 2 ? Math.max(1, Math.round(limit * shares.newest)) : 0;
  const popular = limit >= 3 ? Math.max(1, Math.round(limit * shares.popular)) : 0;
  return { interest: limit - newest - popular, popular, newest };
}

/** The final list: at most `limit` distinct ids, interest matches first, then popular and newest alternating. */
export function mixRecommendations(lists: CandidateLists, limit: number, quotas: Quotas): string[] {
  const chosen = new Set<string>();
  const cursors = { interest: 0, popular: 0, newest: 0 };
  const takeNext = (kind: keyof CandidateLists): boolean => {
    const list = lists[kind];
    while (cursors[kind] < list.length) {
      const id = list[cursors[kind]++]!;
      if (!chosen.has(id)) {
        chosen.add(id);
        return true;
      }
    }
    return false;
  };

  for (let i = 0; i < quotas.interest && chosen.size < limit; i++) if (!takeNext('interest')) break;
  const alternating: Array<keyof CandidateLists> = [];
  for (let i = 0; i < Math.max(quotas.popular, quotas.newest); i++) {
    if (i < quotas.popular) alternating.push('popular');
    if (i < quotas.newest) alternating.push('newest');
  }
  for (const kind of alternating) {
    if (chosen.size >= limit) break;
    takeNext(kind);
  }
  // Shortfall (few matches, few images): fill from whatever is left, interest matches first.
  for (const kind of ['interest', 'popular', 'newest'] as const) {
    while (chosen.size < limit && takeNext(kind));
  }
  return [...chosen];
}
