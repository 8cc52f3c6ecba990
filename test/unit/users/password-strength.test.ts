import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonWords } from '@zxcvbn-ts/language-common';
import { dictionary as englishWords, translations } from '@zxcvbn-ts/language-en';
import { estimatePassword, passwordWeakness } from '../../../src/users/password-strength.js';
import { asRankedDictionary, rankedWordsFromJoined } from '../../../src/users/ranked-words.js';

const run = promisify(execFile);

describe('ranked word lists, from their joined string', () => {
  const words = rankedWordsFromJoined('password\n123456\ndragon\nmonkey\ndragon\néclair', '\n');

  it('ranks words by position, the first as 1, a repeated word at its later rank', () => {
    expect(words.size).toBe(6);
    expect(words.rankOf('password')).toBe(1);
    expect(words.rankOf('123456')).toBe(2);
    expect(words.rankOf('monkey')).toBe(4);
    expect(words.rankOf('dragon')).toBe(5);
    expect(words.rankOf('éclair')).toBe(6);
    expect(words.longestWord).toBe(8);
  });

  it('knows nothing it was not given: prefixes, longer words, the separator, Object.prototype names', () => {
    for (const absent of ['pass', 'passwords', 'dragon1', '', '\n', 'password\n123456', 'monkey\n', 'constructor', 'toString', '__proto__']) {
      expect(words.rankOf(absent), absent).toBeUndefined();
      expect(asRankedDictionary(words)[absent], absent).toBeUndefined();
    }
    expect(asRankedDictionary(words)['dragon']).toBe(5);
    expect('monkey' in asRankedDictionary(words)).toBe(true);
  });

  it('splits on its separator only, which must be one code unit and never make an empty word', () => {
    const spaced = rankedWordsFromJoined('la verne|zsa zsa|a\nb|x', '|');
    expect([spaced.rankOf('la verne'), spaced.rankOf('zsa zsa'), spaced.rankOf('a\nb'), spaced.rankOf('x')]).toEqual([1, 2, 3, 4]);
    expect(spaced.rankOf('la')).toBeUndefined();
    expect(rankedWordsFromJoined('only', '\n')).toMatchObject({ size: 1, longestWord: 4 });
    expect(rankedWordsFromJoined('only', '\n').rankOf('only')).toBe(1);
    const empty = rankedWordsFromJoined('', '\n');
    expect(empty).toMatchObject({ size: 0, longestWord: 0 });
    expect(empty.rankOf('')).toBeUndefined();
    expect(() => rankedWordsFromJoined('a\n\nb', '\n')).toThrow(/empty word \(at rank 2\)/);
    expect(() => rankedWordsFromJoined('a\n', '\n')).toThrow(/empty word/);
    expect(() => rankedWordsFromJoined('a--b', '--')).toThrow(/one UTF-16 code unit/);
    expect(() => rankedWordsFromJoined('ab', '')).toThrow(/one UTF-16 code unit/);
  });

  it('holds a list the size of the real ones', () => {
    const list = englishWords['lastnames-en'];
    const big = rankedWordsFromJoined(list.join('\n'), '\n');
    expect(big.size).toBe(list.length);
    expect(big.longestWord).toBe(Math.max(...list.map((word) => word.length)));
    for (const index of [0, 1, 1000, list.length - 1]) expect(big.rankOf(list[index]!)).toBe(list.lastIndexOf(list[index]!) + 1);
  });

  it('ranks every word of every real list as zxcvbn-ts would (its later rank when listed twice)', () => {
    for (const [name, list] of Object.entries({ ...commonWords, ...englishWords })) {
      const ranked = rankedWordsFromJoined(list.join('\n'), '\n');
      const stockRanks = new Map(list.map((word, index) => [word, index + 1]));
      const wrong = list.filter((word) => ranked.rankOf(word) !== stockRanks.get(word));
      expect(wrong, name).toEqual([]);
    }
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

  it('builds its estimator from the word file alone: no language pack is loaded', async () => {
    // In a process of its own (this one has loaded the packs for the stock estimator), watching
    // every module Node resolves, through `import` or `require`.
    const script = `
      import { registerHooks } from 'node:module';
      const resolved = [];
      registerHooks({ resolve: (specifier, context, next) => { const result = next(specifier, context); resolved.push(result.url); return result; } });
      const { passwordWeakness } = await import(${JSON.stringify(new URL('../../../src/users/password-strength.ts', import.meta.url).href)});
      const verdict = passwordWeakness('12345678', 'alice');
      console.log(JSON.stringify({ verdict, resolved }));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const { verdict, resolved } = JSON.parse(stdout) as { verdict?: string; resolved: string[] };
    expect(verdict).toMatch(/too easy to guess/);
    // The watch sees the estimator's own modules (required by zxcvbn-ts's CommonJS entry)...
    expect(resolved.some((url) => url.includes('/@zxcvbn-ts/core/'))).toBe(true);
    // ...and neither a language pack nor the decompressor they load.
    expect(resolved.filter((url) => /@zxcvbn-ts\/(language-|dictionary-compression)/.test(url))).toEqual([]);
  });
});
