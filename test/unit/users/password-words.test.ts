import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { adjacencyGraphs, dictionary as commonWords } from '@zxcvbn-ts/language-common';
import { dictionary as englishWords, translations } from '@zxcvbn-ts/language-en';
import {
  checkPasswordWordsPresent, joinedWords, passwordWordsFile, passwordWordsFromPacks, readPasswordWords, wordSeparator, writePasswordWords,
} from '../../../src/users/password-words.js';

describe('the password-strength word file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'easel-password-words-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('joins a list with the separator, and refuses a word that holds it or is empty', () => {
    expect(joinedWords('test', ['la verne', 'zsa zsa', 'x'], '\n')).toBe('la verne\nzsa zsa\nx');
    expect(joinedWords('test', [], '\n')).toBe('');
    expect(() => joinedWords('lastnames-en', ['smith', 'jo\nann'], '\n')).toThrow(/lastnames-en word list's word at rank 2 \("jo\\nann"\).*separator "\\n"/);
    expect(() => joinedWords('test', ['smith', 'la verne'], ' ')).toThrow(/rank 2/);
    expect(() => joinedWords('test', ['smith', ''], '\n')).toThrow(/rank 2 \(""\) is empty/);
  });

  it('gives back every list of the language packs, its words in order, and their graphs and messages', () => {
    const written = writePasswordWords(directory);
    expect(written).toBe(join(directory, 'password-words.json'));
    const read = readPasswordWords(pathToFileURL(written));
    const packs: Record<string, string[]> = { ...commonWords, ...englishWords };
    expect(read.separator).toBe(wordSeparator);
    expect(Object.keys(read.dictionaries)).toEqual(Object.keys(packs));
    for (const [name, list] of Object.entries(packs)) expect(read.dictionaries[name]!.split(read.separator), name).toEqual(list);
    expect(read.graphs).toEqual(adjacencyGraphs);
    expect(read.translations).toEqual(translations);
  });

  it('is written in ASCII, so that it reads back as a one-byte string', () => {
    const text = readFileSync(writePasswordWords(directory, passwordWordsFromPacks()), 'latin1');
    expect(/[^\x20-\x7e]/.test(text)).toBe(false);
    expect(text).toContain('\\u00e9'); // é, in some of the packs' words
  });

  it('says to run the build when the file is missing or not in the format this version reads', () => {
    expect(() => readPasswordWords(pathToFileURL(join(directory, 'absent.json')))).toThrow(/absent\.json is missing: run `npm run build`/);
    const stale = join(directory, 'stale.json');
    writeFileSync(stale, JSON.stringify({ dictionaries: {} }));
    expect(() => readPasswordWords(pathToFileURL(stale))).toThrow(/not in the format this version reads: run `npm run build`/);
  });

  it('is checked for at start-up: present, nothing happens; missing, the error says to run the build', () => {
    expect(() => checkPasswordWordsPresent(pathToFileURL(writePasswordWords(directory)))).not.toThrow();
    expect(() => checkPasswordWordsPresent(pathToFileURL(join(directory, 'absent.json')))).toThrow(/absent\.json is missing: run `npm run build`/);
  });

  it('is where the service reads it, written by the test setup as the build writes it into dist/', () => {
    expect(readFileSync(passwordWordsFile, 'latin1')).toBe(readFileSync(writePasswordWords(directory), 'latin1'));
  });
});
