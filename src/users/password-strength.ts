import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonWords } from '@zxcvbn-ts/language-common';
import { dictionary as englishWords, translations } from '@zxcvbn-ts/language-en';

// How guessable a new password is, estimated by zxcvbn-ts (the maintained TypeScript port of
// Dropbox's zxcvbn: common passwords, names, words, keyboard walks, repeats, dates, l33t). A
// password must reach score 2 ("somewhat guessable": more than 10^6 guesses), which with the
// login rate limits and scrypt leaves online guessing hopeless, and it must not be the account
// name (which the estimate also counts as a known word). The estimate is made on the first `estimatedPrefix` characters only: its cost
// grows with length (a 128-character run of one digit takes near a second), and a prefix is
// never stronger than the whole, so a password refused this way is at worst one we could have taken.

export const minimumScore = 2;
const estimatedPrefix = 40;

let factory: ZxcvbnFactory | undefined;
// Built on first use: loading the dictionaries takes a few hundred milliseconds.
const estimator = () => (factory ??= new ZxcvbnFactory({
  graphs: adjacencyGraphs,
  dictionary: { ...commonWords, ...englishWords },
  translations,
}));

/** Why `password` is too weak for the account `name`, or undefined when it will do. */
export function passwordWeakness(password: string, name: string): string | undefined {
  const lowerPassword = password.toLowerCase();
  if (lowerPassword.trim() === '') return 'the password must not be only spaces';
  if (lowerPassword === name.toLowerCase()) return 'the password must not be the name';
  const result = estimator().check([...password].slice(0, estimatedPrefix).join(''), [name]);
  if (result.score >= minimumScore) return undefined;
  return `the password is too easy to guess${result.feedback.warning ? ` (${result.feedback.warning.replace(/\.$/, '')})` : ''}; use a longer or less common one`;
}
