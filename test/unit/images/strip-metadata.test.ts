import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { stripMetadata } from '../../../src/images/strip-metadata.js';
import { makeVariants } from '../../../src/images/variants.js';

// Stored originals lose what they say about their author (GPS, names in EXIF/XMP) but keep how
// they look: orientation and colour profile; an image without metadata is stored byte for byte.

const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Jane Realname</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>';

async function withMetadata(format: 'jpeg' | 'png' | 'webp'): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .withMetadata({ orientation: 6, icc: 'p3' })
    .withExif({ IFD0: { Artist: 'Jane Realname', Copyright: 'Jane Realname' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1' } })
    .withXmp(xmp)
    .toFormat(format)
    .toBuffer();
}

describe('stored originals', () => {
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    it(`${format}: no EXIF, XMP or GPS left; the colour profile${format === 'jpeg' ? ' and the orientation' : ''} kept; the pixels untouched`, async () => {
      const uploaded = await withMetadata(format);
      const before = await sharp(uploaded).metadata();
      expect(before.exif ?? before.xmp).toBeDefined();
      expect(uploaded.includes('Jane Realname')).toBe(true);

      const stored = stripMetadata(uploaded, `image/${format}`);
      expect(stored.includes('Jane Realname')).toBe(false);
      const after = await sharp(stored).metadata();
      expect(after.xmp).toBeUndefined();
      expect(after.icc).toBeDefined();
      if (format === 'jpeg') expect(after.orientation).toBe(6);
      const [a, b] = await Promise.all([sharp(uploaded).raw().toBuffer(), sharp(stored).raw().toBuffer()]);
      expect(b.equals(a)).toBe(true);
    });
  }

  it('an image without metadata is stored exactly as uploaded', async () => {
    const plain = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'blue' } }).png().toBuffer();
    expect(stripMetadata(plain, 'image/png')).toBe(plain);
  });

  it('the upload pipeline stores the stripped original', async () => {
    const uploaded = await withMetadata('jpeg');
    const [original] = await makeVariants(uploaded, { type: 'image/jpeg', width: 40, height: 20, size: uploaded.length, pages: 1 }, { maxBytes: 1e7, maxPixels: 1e7 });
    expect(original!.bytes.includes('Jane Realname')).toBe(false);
  });
});
