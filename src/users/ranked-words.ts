// A ranked word list (rank = position + 1, the most common word first) kept compact: the words
// as the one string they arrive in (joined by a separator, from the word file password-words.ts
// writes), their offsets in it, and an open-addressing hash table of positions. zxcvbn-ts builds
// a plain object per list instead (about 230,000 keys for the common and English lists), which
// took some 25 MB of the users service's 120 MB budget; this takes about 5 MB. Built straight
// from the joined string, so no array of the words ever exists (it alone was several megabytes).

export interface RankedWords {
  readonly size: number;
  readonly longestWord: number;
  /** The rank of `word` (1 for the first), or undefined when it is not in the list. */
  rankOf(word: string): number | undefined;
}

/**
 * FNV-1a over UTF-16 code units (of `text` from `start` to `end`). Not the cache ring's murmur3:
 * that one encodes to UTF-8 first, an allocation per look-up, and a strength check makes tens
 * of thousands (86 ms against 48).
 */
function hashOf(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The words of `joined` (the list in rank order, each word followed by the next one after a
 * `separator`, a single UTF-16 code unit no word contains). An empty string is an empty list,
 * so no word may be empty (one would be [''] and [] alike).
 */
export function rankedWordsFromJoined(joined: string, separator: string): RankedWords {
  return new JoinedRankedWords(joined, separator);
}

// A class rather than closures over each list: one shape and one set of functions for every
// list, so the code V8 optimizes while indexing the first list still fits the next (closures
// made per list were each a new call target, and sent it back to deoptimize and recompile).
class JoinedRankedWords implements RankedWords {
  readonly size: number;
  readonly longestWord: number;
  readonly #joined: string;
  /**
   * starts[position] is where the word begins; one more entry, one past the end, closes the last
   * word as each separator closes the one before it (a word ends one unit before the next start).
   */
  readonly #starts: Uint32Array;
  /** Open addressing, at most half full so a probe sequence stays short; position + 1, 0 is empty. */
  readonly #slots: Uint32Array;
  readonly #mask: number;

  constructor(joined: string, separator: string) {
    if (separator.length !== 1) throw new Error(`a ranked word list's separator must be one UTF-16 code unit, not ${JSON.stringify(separator)}`);
    let size = 0;
    if (joined !== '') {
      size = 1;
      for (let at = joined.indexOf(separator); at !== -1; at = joined.indexOf(separator, at + 1)) size++;
    }
    const starts = new Uint32Array(size + 1);
    let longestWord = 0;
    for (let position = 0, start = 0; position < size; position++) {
      starts[position] = start;
      const end = position === size - 1 ? joined.length : joined.indexOf(separator, start);
      if (end === start) throw new Error(`a ranked word list has an empty word (at rank ${position + 1})`);
      longestWord = Math.max(longestWord, end - start);
      start = end + 1;
    }
    starts[size] = joined.length + 1;
    let capacity = 1;
    while (capacity < size * 2) capacity *= 2;
    this.size = size;
    this.longestWord = longestWord;
    this.#joined = joined;
    this.#starts = starts;
    this.#slots = new Uint32Array(capacity);
    this.#mask = capacity - 1;
    // A word listed twice takes its later rank, as zxcvbn's own object would.
    for (let position = 0; position < size; position++) {
      this.#slots[this.#slotOf(joined, starts[position]!, starts[position + 1]! - 1)] = position + 1;
    }
  }

  rankOf(word: string): number | undefined {
    if (word.length > this.longestWord) return undefined;
    const held = this.#slots[this.#slotOf(word, 0, word.length)]!;
    return held === 0 ? undefined : held;
  }

  /**
   * The slot holding the word text[start, end), or the empty one where it would go. Compares in
   * place: neither a look-up nor the indexing makes a string.
   */
  #slotOf(text: string, start: number, end: number): number {
    const joined = this.#joined, starts = this.#starts, slots = this.#slots, mask = this.#mask;
    const length = end - start;
    for (let slot = hashOf(text, start, end) & mask; ; slot = (slot + 1) & mask) {
      const held = slots[slot]!;
      if (held === 0) return slot;
      const from = starts[held - 1]!;
      if (starts[held]! - 1 - from !== length) continue;
      let same = true;
      for (let i = 0; i < length && same; i++) same = joined.charCodeAt(from + i) === text.charCodeAt(start + i);
      if (same) return slot;
    }
  }
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
