import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageVariant } from '../contracts/images.js';
import type { ImageLimits, InspectedImage } from './image-inspection.js';
import { AppError } from '../platform/errors.js';
import { Semaphore } from '../platform/semaphore.js';
import { stripMetadata } from './strip-metadata.js';

// The stored forms of an image: the original as its author made it, minus what it says about
// them (strip-metadata.ts: EXIF, XMP, IPTC removed without re-encoding; orientation and colour
// profile kept), and smaller WebP copies for pages and lists. Resizing keeps the aspect ratio
// and never enlarges. The pixels are decoded once, into memory, and both copies are made from
// that one decode; a decode that takes longer than the budget is refused (a small file can hold
// a costly image).

export const variantMaxSide = { medium: 1280, thumb: 320 } as const;

/** Seconds of libvips work one pipeline may take before the upload is refused. */
export const defaultDecodeBudgetSeconds = 10;

export interface StoredVariant {
  variant: ImageVariant;
  contentType: string;
  /** Strong HTTP validator derived from the bytes' sha256. */
  etag: string;
  bytes: Buffer;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function etagFor(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}

// Decoding a large image takes up to width x height x channels bytes: at most two images are
// decoded at once, so a burst of big uploads queues instead of multiplying memory.
const decoding = new Semaphore({ permits: 2, name: 'image decoding' });

/** The original plus medium and thumb; AppError UNSUPPORTED_MEDIA_TYPE when the pixels cannot be decoded, PAYLOAD_TOO_LARGE past the decode budget. */
export async function makeVariants(original: Buffer, inspected: InspectedImage, limits: ImageLimits): Promise<StoredVariant[]> {
  return decoding.run(() => encodeAll(original, inspected, limits));
}

async function encodeAll(original: Buffer, inspected: InspectedImage, limits: ImageLimits): Promise<StoredVariant[]> {
  const timeout = { seconds: limits.decodeBudgetSeconds ?? defaultDecodeBudgetSeconds };
  const input = { limitInputPixels: limits.maxPixels, failOn: 'error' as const };
  try {
    const stored = stripMetadata(original, inspected.type);
    let pixels: () => sharp.Sharp;
    if ((inspected.pages ?? 1) > 1) {
      // Animated: the copies show the first frame, decoded from the file each time (they are small).
      pixels = () => sharp(original, input);
    } else {
      // The one decode: oriented (EXIF), converted to sRGB through its colour profile, 8 bits per channel.
      const { data, info } = await sharp(original, input).rotate().toColourspace('srgb').raw({ depth: 'uchar' }).timeout(timeout).toBuffer({ resolveWithObject: true });
      const raw = { width: info.width, height: info.height, channels: info.channels };
      pixels = () => sharp(data, { raw, limitInputPixels: limits.maxPixels });
    }
    const variants: StoredVariant[] = [{ variant: 'original', contentType: inspected.type, etag: etagFor(stored), bytes: stored }];
    for (const variant of ['medium', 'thumb'] as const) {
      const side = variantMaxSide[variant];
      const bytes = await pixels()
        .rotate() // a no-op on oriented raw pixels; honours EXIF orientation for an animated original's first frame
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: variant === 'thumb' ? 70 : 80 })
        .timeout(timeout)
        .toBuffer();
      variants.push({ variant, contentType: 'image/webp', etag: etagFor(bytes), bytes });
    }
    return variants;
  } catch (error) {
    if (error instanceof Error && /timeout/i.test(error.message)) {
      throw new AppError('PAYLOAD_TOO_LARGE', `the image takes too long to decode (over ${timeout.seconds} s)`, { cause: error });
    }
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'the image could not be decoded', { cause: error });
  }
}
