import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { imagesContract } from '../../../src/contracts/images.js';
import { limits } from '../../../src/contracts/limits.js';
import { recommendationsContract } from '../../../src/contracts/recommendations.js';
import { usersContract } from '../../../src/contracts/users.js';
import { validateTags } from '../../../src/images/image-metadata.js';

// Every string and array an RPC contract takes has a maximum, so no caller (a gateway bug, a
// process on the network) can hand a service work that grows with an unbounded input.

interface Def { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; keyType?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[]; checks?: Array<{ _zod: { def: { check: string } } }> }
const defOf = (schema: z.ZodType) => (schema as unknown as { def: Def }).def;

/** Paths of strings and arrays without a maximum. */
function unbounded(schema: z.ZodType, path: string): string[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape ?? {}).flatMap(([key, field]) => unbounded(field, `${path}.${key}`));
    case 'optional':
    case 'nullable':
    case 'default':
      return unbounded(def.innerType!, path);
    case 'string':
      return (schema as z.ZodString).maxLength === null ? [path] : [];
    case 'array': {
      const bounded = (def.checks ?? []).some((check) => check._zod.def.check === 'max_length');
      return [...(bounded ? [] : [path]), ...unbounded(def.element!, `${path}[]`)];
    }
    case 'record':
      return unbounded(def.keyType!, `${path}{key}`);
    case 'union':
      return (def.options ?? []).flatMap((option, i) => unbounded(option, `${path}|${i}`));
    default:
      return [];
  }
}

describe('the RPC contracts', () => {
  for (const contract of [usersContract, imagesContract, recommendationsContract]) {
    it(`${contract.name}: every input string and array has a maximum`, () => {
      const found = Object.entries(contract.methods).flatMap(([name, method]) => unbounded(method.input, `${name}.input`));
      expect(found).toEqual([]);
    });
  }

  it('refuse 100,000 tags before looking at any of them', () => {
    const tags = Array.from({ length: 100_000 }, (_, i) => `tag${i}`);
    expect(imagesContract.methods.Upload.input.safeParse({ authorId: 'u', authorName: 'n', tags, image: Buffer.alloc(1) }).success).toBe(false);
    // The service counts before it reads: not one tag is looked at.
    let reads = 0;
    const watched = new Proxy(tags, { get: (target, key, receiver) => (typeof key === 'string' && /^\d+$/.test(key) && reads++, Reflect.get(target, key, receiver)) });
    expect(() => validateTags(watched)).toThrow(`at most ${limits.image.tags} tags`);
    expect(reads).toBe(0);
  });

  it('de-duplicate tags in linear time', () => {
    expect(validateTags(['Ink', 'ink ', 'INK', 'oil'])).toEqual(['ink', 'oil']);
  });
});
