// Tags as every service sees them, in one place: what a tag may be and the one form it is
// stored, indexed and searched in. Images validates and stores them, recommendations indexes
// them, and a caller can check them before calling either.

export const tagLimits = { maxTags: 10, maxTagLength: 32 } as const;

/** A normalised tag: 1-32 letters, digits, "-" or "_". */
export const tagPattern = new RegExp(`^[\\p{L}\\p{N}_-]{1,${tagLimits.maxTagLength}}$`, 'u');

/** A tag in its one form: trimmed, lower case ("Watercolor " and "watercolor" are one tag). */
export function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase();
}

/** Normalised tags, each once, empty ones dropped, in the order given. */
export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map(normaliseTag).filter((tag) => tag.length > 0))];
}
