import { describe, expect, it } from 'vitest';
import { validateImageText, validateModification, validateTags } from '../../../src/images/image-metadata.js';

const messageOf = (run: () => unknown): string => {
  try {
    run();
    return 'no error';
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`;
  }
};

describe('image metadata', () => {
  it('normalises tags: trimmed, lower case, duplicates dropped', () => {
    expect(validateTags([' Sunset ', 'sea_side', 'SUNSET', 'oil-paint', 'Ürün'])).toEqual(['sunset', 'sea_side', 'oil-paint', 'ürün']);
  });

  it('refuses bad tags, too many tags, long titles and descriptions', () => {
    expect(messageOf(() => validateTags(['two words']))).toMatch(/^INVALID_ARGUMENT: tag "two words"/);
    expect(messageOf(() => validateTags(['']))).toMatch(/^INVALID_ARGUMENT/);
    expect(messageOf(() => validateTags(['x'.repeat(33)]))).toMatch(/^INVALID_ARGUMENT/);
    expect(messageOf(() => validateTags(['x'.repeat(32)]))).toBe('no error');
    expect(messageOf(() => validateTags(Array.from({ length: 11 }, (_, i) => `t${i}`)))).toBe('INVALID_ARGUMENT: at most 10 tags');
    expect(messageOf(() => validateImageText({ title: 'x'.repeat(101) }))).toMatch(/^INVALID_ARGUMENT: title/);
    expect(messageOf(() => validateImageText({ title: 'x'.repeat(100), description: 'y'.repeat(1000) }))).toBe('no error');
    expect(messageOf(() => validateImageText({ description: 'y'.repeat(1001) }))).toMatch(/^INVALID_ARGUMENT: description/);
  });

  it('counts characters, not UTF-16 units, against the title limit', () => {
    expect(messageOf(() => validateImageText({ title: '🎨'.repeat(100) }))).toBe('no error');
  });

  it('a modification needs at least one of title and description (the original rule, in its words; tags count too)', () => {
    expect(messageOf(() => validateModification({}))).toBe('INVALID_ARGUMENT: at least one of title and description is required');
    expect(validateModification({ description: '' })).toEqual({ description: '' });
    expect(validateModification({ title: 'New' })).toEqual({ title: 'New' });
  });

  it('tags in a modification are checked and normalised like an upload\'s; an empty list removes them all', () => {
    expect(validateModification({ tags: [' Ink ', 'ink', 'Sea'] })).toEqual({ tags: ['ink', 'sea'] });
    expect(validateModification({ tags: [] })).toEqual({ tags: [] });
    expect(messageOf(() => validateModification({ tags: ['no spaces please'] }))).toMatch(/^INVALID_ARGUMENT: tag "no spaces please" must be/);
    expect(messageOf(() => validateModification({ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }))).toBe('INVALID_ARGUMENT: at most 10 tags');
  });
});
