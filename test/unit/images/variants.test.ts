import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { makeVariants } from '../../../src/images/variants.js';
import { inspectImage } from '../../../src/images/image-inspection.js';
import { makeImage } from '../../fixtures/images.js';

const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };

describe('variants', () => {
  it('keeps the original untouched and makes real, smaller WebP copies that keep the aspect ratio', async () => {
    const original = await makeImage('jpeg', 2000, 1000);
    const variants = await makeVariants(original, await inspectImage(original, limits), limits);
    const byName = Object.fromEntries(variants.map((v) => [v.variant, v]));
    expect(byName.original!.bytes.equals(original)).toBe(true);
    expect(byName.original!.contentType).toBe('image/jpeg');
    const thumb = await sharp(byName.thumb!.bytes).metadata();
    const medium = await sharp(byName.medium!.bytes).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['webp', 320, 160]);
    expect([medium.format, medium.width, medium.height]).toEqual(['webp', 1280, 640]);
    expect(new Set(variants.map((v) => v.etag)).size).toBe(3);
  });

  it('never enlarges a small image', async () => {
    const original = await makeImage('png', 200, 120);
    const variants = await makeVariants(original, await inspectImage(original, limits), limits);
    for (const variant of variants.filter((v) => v.variant !== 'original')) {
      const meta = await sharp(variant.bytes).metadata();
      expect([meta.width, meta.height]).toEqual([200, 120]);
    }
  });

  it('refuses pixels that cannot be decoded', async () => {
    const png = await makeImage('png', 300, 300);
    const truncated = png.subarray(0, 200);
    await expect(makeVariants(truncated, { type: 'image/png', width: 300, height: 300, size: truncated.length }, limits)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('variants under a burst', () => {
  it('makes every image of a concurrent burst (decodes queue, none is lost)', async () => {
    const originals = await Promise.all([0, 1, 2, 3, 4].map((i) => makeImage('png', 400 + i, 300)));
    const results = await Promise.all(originals.map(async (original) => makeVariants(original, await inspectImage(original, limits), limits)));
    for (const [i, variants] of results.entries()) {
      expect(variants.map((v) => v.variant)).toEqual(['original', 'medium', 'thumb']);
      expect((await sharp(variants[1]!.bytes).metadata()).width).toBe(400 + i);
    }
  });
});
