import type { Limits, Me } from '../../lib/api-types';
import { formatBytesApart, formatMegapixels, plural } from '../../lib/format';
import type { ImageFacts } from './image-facts';

// The upload's checks, made before anything is sent, against the limits the server publishes
// (GET /limits). The server checks again and stays the authority; these spare a person a long
// upload that would be refused, and say what to do instead.

export type UploadField = 'file' | 'title' | 'description' | 'tags';

export interface Problem {
  field: UploadField;
  message: string;
}

export interface UploadDraft {
  file: { name: string; size: number } | undefined;
  facts: ImageFacts | undefined;
  title: string;
  description: string;
  tags: string;
}

const tagPattern = /^[\p{L}\p{N}_-]{1,32}$/u;
const typeNames: Record<string, string> = { 'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/webp': 'WebP', 'image/gif': 'GIF' };

export const acceptedTypeNames = (limits: Limits) => limits.types.map((type) => typeNames[type] ?? type).join(', ');

/** Tags as the server stores them: split on commas, trimmed, lower case, without repeats. */
export function parseTags(text: string): string[] {
  const tags: string[] = [];
  for (const raw of text.split(',')) {
    const tag = raw.trim().toLowerCase();
    if (tag && !tags.includes(tag)) tags.push(tag);
  }
  return tags;
}

export function checkFile(file: UploadDraft['file'], facts: ImageFacts | undefined, limits: Limits): Problem[] {
  if (!file) return [{ field: 'file', message: 'Choose an image to upload.' }];
  if (file.size === 0) return [{ field: 'file', message: `“${file.name}” is empty. Choose another file.` }];
  if (file.size > limits.maxBytes) {
    const [size, limit] = formatBytesApart(file.size, limits.maxBytes);
    return [{
      field: 'file',
      message: `“${file.name}” is ${size}; Easel takes images up to ${limit}. Export it smaller (fewer pixels or a lower quality) and try again.`,
    }];
  }
  if (!facts) return [];
  if (!facts.type || !limits.types.includes(facts.type)) {
    return [{ field: 'file', message: `“${file.name}” is not an image Easel takes. Use one of: ${acceptedTypeNames(limits)}.` }];
  }
  if (facts.width === 0 || facts.height === 0) return [{ field: 'file', message: `“${file.name}” could not be read as an image. It may be damaged; try exporting it again.` }];
  const pixels = facts.width * facts.height;
  if (pixels > limits.maxPixels) {
    return [{
      field: 'file',
      message: `“${file.name}” is ${facts.width} × ${facts.height} pixels (${formatMegapixels(pixels)}); Easel takes up to ${formatMegapixels(limits.maxPixels)}. Resize it and try again.`,
    }];
  }
  return [];
}

export function checkText(draft: Pick<UploadDraft, 'title' | 'description' | 'tags'>, limits: Limits): Problem[] {
  const problems: Problem[] = [];
  const titleLength = [...draft.title].length;
  if (titleLength > limits.maxTitle) problems.push({ field: 'title', message: `The title is ${titleLength} characters; keep it to ${limits.maxTitle}.` });
  const descriptionLength = [...draft.description].length;
  if (descriptionLength > limits.maxDescription) {
    problems.push({ field: 'description', message: `The description is ${descriptionLength} characters; keep it to ${limits.maxDescription}.` });
  }
  const tags = parseTags(draft.tags);
  const bad = tags.find((tag) => !tagPattern.test(tag));
  if (bad !== undefined) {
    problems.push({ field: 'tags', message: `The tag “${bad}” can only have letters, digits, “-” and “_” (up to 32), with commas between tags.` });
  } else if (tags.length > limits.maxTags) {
    problems.push({ field: 'tags', message: `That is ${plural(tags.length, 'tag')}; use at most ${limits.maxTags}.` });
  }
  return problems;
}

export function checkQuota(me: Me | null | undefined): Problem[] {
  if (!me || me.quota.used < me.quota.limit) return [];
  return [{ field: 'file', message: `Your upload quota is full (${me.quota.used} of ${me.quota.limit}). Delete an image in “My images” to make room.` }];
}

export function checkUpload(draft: UploadDraft, limits: Limits, me: Me | null | undefined): Problem[] {
  return [...checkFile(draft.file, draft.facts, limits), ...checkQuota(draft.file ? me : undefined), ...checkText(draft, limits)];
}
