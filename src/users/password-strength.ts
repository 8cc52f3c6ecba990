import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { readPasswordWords } from './password-words.js';
import { asRankedDictionary, rankedWordsFromJoined } from './ranked-words.js';

// How guessable a new password is, estimated by zxcvbn-ts (the maintained TypeScript port of
// Dropbox's zxcvbn: common passwords, names, words, keyboard walks, repeats, dates, l33t). A
// password must reach score 2 ("somewhat guessable": more than 10^6 guesses), which with the
// login rate limits and scrypt leaves online guessing hopeless, and it must not be the account
// name (which the estimate also counts as a known word). The estimate is made on the first
// `estimatedPrefix` characters only: its cost grows with length (a 128-character run of one digit
// takes near a second), and a prefix is never stronger than the whole, so a password refused this
// way is at worst one we could have taken.

export const minimumScore = 2;
const estimatedPrefix = 40;

let factory: ZxcvbnFactory | undefined;
// Built on first use, not at start-up: indexing the word lists takes some tens of milliseconds
// and, for that moment, holds the file's text besides the lists; at start-up that moment would add
// to the compilation of every module (the process's peak memory).
const estimator = () => (factory ??= buildEstimator());

/**
 * zxcvbn-ts with the common and English dictionaries held as compact ranked word lists
 * (ranked-words.ts) instead of the object per list it builds itself, which alone took a fifth
 * of the users service's memory budget. The lists, keyboard graphs and messages come from the
 * word file generated at build time (password-words.ts), one string per list: the language
 * packs, whose loading and decompression raised the peak by over 30 MB, are never loaded here.
 * Scores and guesses are those of stock zxcvbn-ts (compared on a sample in
 * test/unit/users/password-strength.test.ts).
 */
function buildEstimator(): ZxcvbnFactory {
  const { separator, dictionaries, graphs, translations } = readPasswordWords();
  const built = new ZxcvbnFactory({ graphs, translations });
  const ranked: Record<string, Record<string, number>> = {};
  const longest: Record<string, number> = {};
  for (const [name, joined] of Object.entries(dictionaries)) {
    const words = rankedWordsFromJoined(joined, separator);
    ranked[name] = asRankedDictionary(words);
    longest[name] = words.longestWord;
  }
  // zxcvbn-ts reads its ranked dictionaries from its options object (private in its types).
  const options = (built as unknown as { options: { rankedDictionaries: unknown; rankedDictionariesMaxWordSize: unknown } }).options;
  options.rankedDictionaries = ranked;
  options.rankedDictionariesMaxWordSize = longest;
  return built;
}

/** Why `password` is too weak for the account `name`, or undefined when it will do. */
export function passwordWeakness(password: string, name: string): string | undefined {
  const lowerPassword = password.toLowerCase();
  if (lowerPassword.trim() === '') return 'the password must not be only spaces';
  if (lowerPassword === name.toLowerCase()) return 'the password must not be the name';
  const result = estimatePassword(password, name);
  if (result.score >= minimumScore) return undefined;
  return `the password is too easy to guess${result.feedback.warning ? ` (${result.feedback.warning.replace(/\.$/, '')})` : ''}; use a longer or less common one`;
}

/** zxcvbn's estimate for `password` (its first `estimatedPrefix` characters), knowing the account name. */
export function estimatePassword(password: string, name: string): { score: number; guesses: number; feedback: { warning: string | null } } {
  return estimator().check([...password].slice(0, estimatedPrefix).join(''), [name]);
}
