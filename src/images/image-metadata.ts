import { limits, patterns } from '../contracts/limits.js';
import { invalidArgument } from '../platform/errors.js';
import { normaliseTag } from '../contracts/tags.js';

// The words people attach to an image: title, description and tags, checked and normalised.

export const metadataLimits = { maxTitle: limits.image.title, maxDescription: limits.image.description, maxTags: limits.image.tags, maxTagLength: limits.image.tagLength } as const;

export interface ImageText {
  title: string;
  description: string;
  tags: string[];
}

export function validateTitle(title: string): string {
  if ([...title].length > metadataLimits.maxTitle) throw invalidArgument(`title must be at most ${metadataLimits.maxTitle} characters`);
  return title;
}

export function validateDescription(description: string): string {
  if ([...description].length > metadataLimits.maxDescription) throw invalidArgument(`description must be at most ${metadataLimits.maxDescription} characters`);
  return description;
}

/**
 * Normalised, de-duplicated tags in the order given; INVALID_ARGUMENT naming the first bad one.
 * The count is checked before any other work and duplicates go through a Set, so the cost is
 * linear in the input however it was built.
 */
export function validateTags(tags: readonly string[]): string[] {
  if (tags.length > metadataLimits.maxTags) throw invalidArgument(`at most ${metadataLimits.maxTags} tags`);
  const result = new Set<string>();
  for (const raw of tags) {
    const tag = normaliseTag(raw);
    if (!patterns.tag.test(tag)) {
      throw invalidArgument(`tag "${raw.slice(0, 40)}" must be 1-${metadataLimits.maxTagLength} letters, digits, "-" or "_"`);
    }
    result.add(tag);
  }
  return [...result];
}

export function validateImageText(input: { title?: string; description?: string; tags?: readonly string[] }): ImageText {
  return {
    title: validateTitle(input.title ?? ''),
    description: validateDescription(input.description ?? ''),
    tags: validateTags(input.tags ?? []),
  };
}

/** The original contract's rule for Modify (docs/departures.md), in its words: at least one of title and description (tags, added, count too). */
export function validateModification(input: { title?: string; description?: string; tags?: readonly string[] }): { title?: string; description?: string; tags?: string[] } {
  if (input.title === undefined && input.description === undefined && input.tags === undefined) {
    throw invalidArgument('at least one of title and description is required');
  }
  return {
    ...(input.title !== undefined ? { title: validateTitle(input.title) } : {}),
    ...(input.description !== undefined ? { description: validateDescription(input.description) } : {}),
    ...(input.tags !== undefined ? { tags: validateTags(input.tags) } : {}),
  };
}
