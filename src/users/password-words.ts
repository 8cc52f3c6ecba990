import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { OptionsGraph, TranslationKeys } from '@zxcvbn-ts/core';

// The password-strength check's data (password-strength.ts), precomputed into one JSON file:
// zxcvbn-ts's common and English word lists, its keyboard adjacency graphs and its English
// messages. Loading the language packs themselves at the first sign-up raised the users
// service's peak memory by over 30 MB (their source, its decompression into 236,514 strings,
// then the copy); the file holds each list as one string, which ranked-words.ts indexes in place.
//
// The file is generated, never committed (.gitignore): `npm run build` writes it next to the
// compiled service (dist/src/users/, by write-password-words.ts), and the test tiers that run
// the TypeScript sources write it into src/users/ (test/support/password-words-setup.ts).

const fileName = 'password-words.json';
/** Where the service looks for the file: next to this module, compiled (dist/src/users/) or not. */
export const passwordWordsFile = new URL(fileName, import.meta.url);

/** Between a list's words: no word of the packs holds a line break (checked when writing). */
export const wordSeparator = '\n';

export interface PasswordWords {
  /** The one UTF-16 code unit between a list's words. */
  separator: string;
  /** Per zxcvbn dictionary name, its words in rank order (the most common first) joined by the separator. */
  dictionaries: Record<string, string>;
  graphs: OptionsGraph;
  translations: TranslationKeys;
}

/** The words of the list `name` joined by `separator`; throws when a word is empty or holds it. */
export function joinedWords(name: string, words: readonly string[], separator: string): string {
  words.forEach((word, index) => {
    if (word === '' || word.includes(separator)) {
      throw new Error(
        `the ${name} word list's word at rank ${index + 1} (${JSON.stringify(word)}) is empty or holds the separator ${JSON.stringify(separator)}: ` +
        'pick a separator no word holds (wordSeparator in src/users/password-words.ts)',
      );
    }
  });
  return words.join(separator);
}

/**
 * The data from the language packs. They are loaded through `require`, inside this function, so
 * that the service, which imports this module to read the file, never loads them.
 */
export function passwordWordsFromPacks(separator = wordSeparator): PasswordWords {
  const require = createRequire(import.meta.url);
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const english = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const dictionaries: Record<string, string> = {};
  for (const [name, words] of Object.entries({ ...common.dictionary, ...english.dictionary })) {
    dictionaries[name] = joinedWords(name, words, separator);
  }
  const words: PasswordWords = { separator, dictionaries, graphs: common.adjacencyGraphs, translations: english.translations };
  // JSON drops what is not data (a pluralising function among the messages, say): refuse to write
  // a file from which zxcvbn would not get back what the packs gave it.
  for (const part of ['graphs', 'translations'] as const) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(words[part])), words[part])) {
      throw new Error(`the language packs' ${part} do not survive JSON: the password word file cannot hold them`);
    }
  }
  return words;
}

/**
 * Writes the file into `directory` (by default where the service looks for it) and returns its
 * path. Characters beyond ASCII are written as \u escapes, so the file reads back as a one-byte
 * string (one non-Latin-1 character would make the whole text two bytes a character). Written
 * under a temporary name, then renamed: a process reading it meanwhile sees the old or the new.
 */
export function writePasswordWords(directory = fileURLToPath(new URL('.', passwordWordsFile)), words = passwordWordsFromPacks()): string {
  const path = join(directory, fileName);
  const text = JSON.stringify(words).replace(/[\u007f-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
  return path;
}

const remedy = 'run `npm run build` (it writes the file next to the compiled users service; the unit, integration and security tests write it into src/users/ in their global setup)';

function missingFile(path: string, cause: unknown): Error {
  return new Error(`the password-strength word file ${path} is missing: ${remedy}`, { cause });
}

/**
 * Throws, saying what to run, when the file is not there. The users service checks at start-up,
 * so a build without the file fails to start instead of answering its first sign-up with a 500
 * (the file itself is read on first use: password-strength.ts).
 */
export function checkPasswordWordsPresent(file: URL = passwordWordsFile): void {
  try {
    statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingFile(fileURLToPath(file), error);
    throw error;
  }
}

/** Reads the file at `file`; says what to run when it is missing or not in this version's format. */
export function readPasswordWords(file: URL = passwordWordsFile): PasswordWords {
  const path = fileURLToPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingFile(path, error);
    throw error;
  }
  const words = JSON.parse(text) as Partial<PasswordWords>;
  if (typeof words.separator !== 'string' || typeof words.dictionaries !== 'object' || typeof words.graphs !== 'object' || typeof words.translations !== 'object') {
    throw new Error(`the password-strength word file ${path} is not in the format this version reads: ${remedy}`);
  }
  return words as PasswordWords;
}
