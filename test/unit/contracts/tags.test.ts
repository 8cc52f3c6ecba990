import { describe, expect, it } from 'vitest';
import { normaliseTag, normaliseTags } from '../../../src/contracts/tags.js';
import { limits, patterns } from '../../../src/contracts/limits.js';
import { validateTags } from '../../../src/images/image-metadata.js';
import { indexTags } from '../../../src/recommendations/handlers.js';

// One form of a tag for every service: what images stores is what recommendations indexes.

describe('tags', () => {
  it('are trimmed and lower-cased', () => {
    expect(normaliseTag('  Watercolor ')).toBe('watercolor');
    expect(normaliseTag('ÉTUDE')).toBe('étude');
  });

  it('are kept once, empty ones dropped, in the order given', () => {
    expect(normaliseTags([' Watercolor', 'ink', 'watercolor', '', '  ', 'Ink'])).toEqual(['watercolor', 'ink']);
  });

  it('are letters, digits, "-" and "_", up to the length limit, once normalised', () => {
    for (const tag of ['ink', 'still-life', 'oil_on_canvas', 'étude', '水彩', 'a'.repeat(limits.image.tagLength)]) expect(patterns.tag.test(normaliseTag(tag)), tag).toBe(true);
    for (const tag of ['', '  ', 'two words', 'a/b', '#tag', 'a'.repeat(limits.image.tagLength + 1)]) expect(patterns.tag.test(normaliseTag(tag)), tag).toBe(false);
  });

  it('are stored by images and indexed by recommendations in the same form', () => {
    const given = ['Watercolor', ' INK ', 'watercolor'];
    expect(validateTags(given)).toEqual(['watercolor', 'ink']);
    expect(indexTags(given)).toEqual(['ink', 'watercolor']);
    expect(new Set(indexTags(given))).toEqual(new Set(validateTags(given)));
  });
});
