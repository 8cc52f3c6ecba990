// Tags as every service sees them, in one form: trimmed and lower case, so "Watercolor " and
// "watercolor" are one tag wherever it is stored, indexed or searched. What a tag may contain and
// how many an image may have are input limits (limits.ts: patterns.tag, limits.image).

/** A tag in its one form: trimmed, lower case. */
export function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase();
}

/** Normalised tags, each once, empty ones dropped, in the order given. */
export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map(normaliseTag).filter((tag) => tag.length > 0))];
}
