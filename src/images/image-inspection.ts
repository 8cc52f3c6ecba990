import sharp from 'sharp';
import { AppError } from '../platform/errors.js';

// What an upload is, decided from its bytes (never a name or a client's claim), and whether it
// is within the limits. Only headers are read here: a decompression bomb (a small file declaring
// huge dimensions) is refused from its declared size before a single pixel is decoded.

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
  /** Seconds one decoding pipeline may take (variants.ts); a costly image past it is refused. */
  decodeBudgetSeconds?: number;
}

export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif';

export const acceptedTypes: readonly ImageType[] = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];

export interface InspectedImage {
  type: ImageType;
  width: number;
  height: number;
  size: number;
  /** Frames of an animated GIF or WebP (1 for a still image). */
  pages?: number;
}

/** The type from the file's magic bytes, or undefined for anything we don't accept. */
export function detectImageType(bytes: Buffer): ImageType | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(pngSignature)) return 'image/png';
  if (bytes.length >= 6 && (bytes.subarray(0, 6).toString('latin1') === 'GIF87a' || bytes.subarray(0, 6).toString('latin1') === 'GIF89a')) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return undefined;
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const sharpFormatOf: Record<ImageType, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/**
 * Type, dimensions and size of an upload, or AppError PAYLOAD_TOO_LARGE (too many bytes or
 * pixels) / UNSUPPORTED_MEDIA_TYPE (not an image we accept, or a header that cannot be read).
 */
export async function inspectImage(bytes: Buffer, limits: ImageLimits): Promise<InspectedImage> {
  if (bytes.length === 0) throw new AppError('INVALID_ARGUMENT', 'image is empty');
  if (bytes.length > limits.maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `image is larger than ${limits.maxBytes} bytes`, { details: { maxBytes: limits.maxBytes } });
  }
  const type = detectImageType(bytes);
  if (!type) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `not a supported image (accepted: ${acceptedTypes.join(', ')})`);

  let metadata: sharp.Metadata;
  try {
    // metadata() parses the header only, so it is safe on a bomb; sharp's own pixel limit would
    // refuse it here with an unclassifiable error, so the limit is checked below instead (and
    // enforced again by sharp wherever pixels are decoded, see variants.ts).
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'the image could not be read', { cause: error });
  }
  if (metadata.format !== sharpFormatOf[type] || !metadata.width || !metadata.height) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'the image could not be read');
  }
  // Animated images: the frame height, times the frames libvips would load for the whole image.
  const frameHeight = metadata.pageHeight ?? metadata.height;
  const pixels = metadata.width * frameHeight;
  if (pixels > limits.maxPixels) {
    throw new AppError('PAYLOAD_TOO_LARGE', `image has more than ${limits.maxPixels} pixels (${metadata.width}x${frameHeight})`, {
      details: { maxPixels: limits.maxPixels },
    });
  }
  return { type, width: metadata.width, height: frameHeight, size: bytes.length, pages: metadata.pages ?? 1 };
}
