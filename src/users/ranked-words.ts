// A ranked word list (rank = position + 1, the most common word first) kept compact: one string
// of all the words, their offsets, and an open-addressing hash table of positions. zxcvbn-ts
// builds a plain object per list instead (about 230,000 keys for the common and English lists),
// which took some 25 MB of the users service's 120 MB budget; this takes about 5 MB.

export interface RankedWords {
  readonly size: number;
  readonly longestWord: number;
  /** The rank of `word` (1 for the first), or undefined when it is not in the list. */
  rankOf(word: string): number | undefined;
}

/**
 * FNV-1a over UTF-16 code units. Not the cache ring's murmur3: that one encodes to UTF-8 first,
 * an allocation per look-up, and a strength check makes tens of thousands (86 ms against 48).
 */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function rankedWords(list: readonly string[]): RankedWords {
  const joined = list.join('');
  const offsets = new Uint32Array(list.length + 1);
  let longestWord = 0;
  for (let i = 0, at = 0; i < list.length; i++) {
    offsets[i] = at;
    at += list[i]!.length;
    longestWord = Math.max(longestWord, list[i]!.length);
  }
  offsets[list.length] = joined.length;

  // At most half full, so a probe sequence stays short.
  let capacity = 1;
  while (capacity < list.length * 2) capacity *= 2;
  const mask = capacity - 1;
  // Slot holds position + 1; 0 is empty.
  const slots = new Uint32Array(capacity);
  const wordAt = (position: number) => joined.slice(offsets[position]!, offsets[position + 1]!);
  const slotOf = (word: string): number => {
    for (let slot = hashOf(word) & mask; ; slot = (slot + 1) & mask) {
      const held = slots[slot]!;
      if (held === 0) return slot;
      const position = held - 1;
      if (offsets[position + 1]! - offsets[position]! === word.length && wordAt(position) === word) return slot;
    }
  };
  // A word listed twice takes its later rank, as zxcvbn's own object would.
  for (let position = 0; position < list.length; position++) slots[slotOf(list[position]!)] = position + 1;

  return {
    size: list.length,
    longestWord,
    rankOf: (word) => {
      if (word.length > longestWord) return undefined;
      const held = slots[slotOf(word)]!;
      return held === 0 ? undefined : held;
    },
  };
}

/**
 * The words as zxcvbn-ts reads a ranked dictionary (`dictionary[word]` is the rank), without
 * building the object: only own words answer, never Object.prototype's names.
 */
export function asRankedDictionary(words: RankedWords): Record<string, number> {
  return new Proxy({} as Record<string, number>, {
    get: (_target, property) => (typeof property === 'string' ? words.rankOf(property) : undefined),
    has: (_target, property) => typeof property === 'string' && words.rankOf(property) !== undefined,
  });
}
