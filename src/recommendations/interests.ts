// A user's interest profile: a weight per tag that grows with uploads, likes and views and
// halves every `halfLifeMs` without new activity. The stored weight is the value at `updatedAt`;
// the decay since then is applied whenever it is read or changed, so nothing runs in the
// background. The SQL upsert in recommendations.repository.ts applies the same formula.

/** How much interest each kind of activity adds to every tag of the image. */
export const interestWeights = {
  /** The author's own upload: they work in these tags. */
  upload: 2,
  /** A like is the strongest signal. */
  like: 3,
  /** A view is a weak signal; repeated views within `viewCooldownMs` count once. */
  view: 0.25,
} as const;

/** A second view of the same image by the same user within this time adds no interest. */
export const viewCooldownMs = 60 * 60 * 1000;

/** Interests decayed below this no longer drive recommendations. */
export const negligibleWeight = 0.01;

export interface StoredInterest {
  tag: string;
  weight: number;
  updatedAt: Date;
}

export interface Interest {
  tag: string;
  /** The weight decayed to "now". */
  weight: number;
}

export const daysToMs = (days: number) => days * 24 * 60 * 60 * 1000;

/** The multiplier after `elapsedMs`: 1 now, 0.5 after one half-life. Time running backwards (clock skew) does not grow weights. */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  if (elapsedMs <= 0) return 1;
  return Math.pow(0.5, elapsedMs / halfLifeMs);
}

export function decayedWeight(stored: { weight: number; updatedAt: Date }, now: Date, halfLifeMs: number): number {
  return stored.weight * decayFactor(now.getTime() - stored.updatedAt.getTime(), halfLifeMs);
}

/** The stored interest after adding `delta` (negative for an unlike) at `now`; never below zero. */
export function addInterest(stored: { weight: number; updatedAt: Date } | undefined, delta: number, now: Date, halfLifeMs: number): { weight: number; updatedAt: Date } {
  const current = stored ? decayedWeight(stored, now, halfLifeMs) : 0;
  const updatedAt = stored && stored.updatedAt > now ? stored.updatedAt : now;
  return { weight: Math.max(0, current + delta), updatedAt };
}

/** The user's strongest `k` interests now, strongest first; negligible ones left out. */
export function topInterests(stored: readonly StoredInterest[], now: Date, halfLifeMs: number, k: number): Interest[] {
  return stored
    .map((row) => ({ tag: row.tag, weight: decayedWeight(row, now, halfLifeMs) }))
    .filter((interest) => interest.weight >= negligibleWeight)
    .sort((a, b) => b.weight - a.weight || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
    .slice(0, k);
}
