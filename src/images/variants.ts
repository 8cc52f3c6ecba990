import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageVariant } from '../contracts/images.js';
import type { ImageLimits, InspectedImage } from './image-inspection.js';
import { AppError } from '../platform/errors.js';
import { Semaphore } from '../platform/semaphore.js';

// The stored forms of an image: the original untouched, and smaller WebP copies for pages and
// lists. Resizing keeps the aspect ratio and never enlarges.

export const variantMaxSide = { medium: 1280, thumb: 320 } as const;

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
// Each image is resized once, so libvips' operation cache (up to 50 MB by default) only held
// memory; one libvips thread per operation keeps the native buffers of a resize to one set
// (the process's memory budget, docs/read-path.md).
sharp.cache(false);
sharp.concurrency(1);

/** The original plus medium and thumb; AppError UNSUPPORTED_MEDIA_TYPE when the pixels cannot be decoded. */
export async function makeVariants(original: Buffer, inspected: InspectedImage, limits: ImageLimits): Promise<StoredVariant[]> {
  return decoding.run(() => resize(original, inspected, limits));
}

async function resize(original: Buffer, inspected: InspectedImage, limits: ImageLimits): Promise<StoredVariant[]> {
  const variants: StoredVariant[] = [{ variant: 'original', contentType: inspected.type, etag: etagFor(original), bytes: original }];
  try {
    for (const variant of ['medium', 'thumb'] as const) {
      const side = variantMaxSide[variant];
      const bytes = await sharp(original, { limitInputPixels: limits.maxPixels, failOn: 'error' })
        .rotate() // honour EXIF orientation, so thumbnails look the way the original is shown
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: variant === 'thumb' ? 70 : 80 })
        .toBuffer();
      variants.push({ variant, contentType: 'image/webp', etag: etagFor(bytes), bytes });
    }
  } catch (error) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'the image could not be decoded', { cause: error });
  }
  return variants;
}
