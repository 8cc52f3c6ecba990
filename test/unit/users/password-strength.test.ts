import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonWords } from '@zxcvbn-ts/language-common';
import { dictionary as englishWords, translations } from '@zxcvbn-ts/language-en';
import { estimatePassword, passwordWeakness } from '../../../src/users/password-strength.js';
import { asRankedDictionary, rankedWords } from '../../../src/users/ranked-words.js';

describe('ranked word lists', () => {
  const words = rankedWords(['password', '123456', 'dragon', 'monkey', 'dragon', 'éclair']);

  it('ranks words by position, the first as 1, a repeated word at its later rank', () => {
    expect(words.rankOf('password')).toBe(1);
    expect(words.rankOf('123456')).toBe(2);
    expect(words.rankOf('monkey')).toBe(4);
    expect(words.rankOf('dragon')).toBe(5);
    expect(words.rankOf('éclair')).toBe(6);
    expect(words.longestWord).toBe(8);
  });

  it('knows nothing it was not given: prefixes, longer words, Object.prototype names', () => {
    for (const absent of ['pass', 'passwords', 'dragon1', '', 'constructor', 'toString', '__proto__']) {
      expect(words.rankOf(absent), absent).toBeUndefined();
      expect(asRankedDictionary(words)[absent], absent).toBeUndefined();
    }
    expect(asRankedDictionary(words)['dragon']).toBe(5);
    expect('monkey' in asRankedDictionary(words)).toBe(true);
  });

  it('holds a list the size of the real ones', () => {
    const list = englishWords['lastnames-en'];
    const big = rankedWords(list);
    expect(big.size).toBe(list.length);
    for (const index of [0, 1, 1000, list.length - 1]) expect(big.rankOf(list[index]!)).toBe(list.lastIndexOf(list[index]!) + 1);
  });
});

describe('password strength', () => {
  // zxcvbn-ts exactly as its documentation builds it: the compact lists must not change a verdict.
  const stock = new ZxcvbnFactory({ graphs: adjacencyGraphs, dictionary: { ...commonWords, ...englishWords }, translations });
  const samples = [
    '12345678', 'password1', 'P@ssw0rd123', 'iloveyou2', 'jennifer1990', 'smith1987', 'gonzalez2019',
    'qwertyuiop', 'correct horse battery staple', 'Tr0ub4dor&3', 'dragonmonkey', 'sunshine!!',
    'wtsxjkqlmz', 'January2024', 'purple-elephant-71', 'zaq12wsx', 'drowssap', 'alice1234',
  ];

  it('gives the same score and guesses as zxcvbn-ts with its own dictionaries', () => {
    for (const password of samples) {
      const ours = estimatePassword(password, 'alice');
      const theirs = stock.check(password, ['alice']);
      expect({ password, score: ours.score, guesses: ours.guesses }).toEqual({ password, score: theirs.score, guesses: theirs.guesses });
    }
  });

  it('refuses common, short-lived and name-based passwords, and takes a strong one', () => {
    for (const weak of ['12345678', 'password1', 'smith1987', 'qwertyuiop', '        ', 'alice', 'Alice1234']) {
      expect(passwordWeakness(weak, 'alice'), weak).toBeDefined();
    }
    expect(passwordWeakness('purple-elephant-71 at dawn', 'alice')).toBeUndefined();
  });

  it('keeps only its compact copies: the language packs leave the module cache once copied', () => {
    expect(passwordWeakness('12345678', 'alice')).toBeDefined();
    const cached = Object.keys(createRequire(import.meta.url).cache);
    expect(cached.filter((path) => /@zxcvbn-ts[\\/](language-|dictionary-compression)/.test(path))).toEqual([]);
  });
});
