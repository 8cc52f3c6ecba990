import { GIF } from 'image-size/types/gif';
import { JPG } from 'image-size/types/jpg';
import { PNG } from 'image-size/types/png';
import { WEBP } from 'image-size/types/webp';

// What a chosen file is, from its bytes, as the images service decides it (by magic bytes, not
// by name): type and dimensions read from the header, without decoding a single pixel, so a
// decompression bomb is caught before the browser tries to show it.

export interface ImageFacts {
  /** The type from the bytes; undefined when it is none we know. */
  type: string | undefined;
  width: number;
  height: number;
}

const readers = { 'image/png': PNG, 'image/jpeg': JPG, 'image/gif': GIF, 'image/webp': WEBP } as const;

export function detectImageType(bytes: Uint8Array): keyof typeof readers | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 8) === 'PNG\r\n\x1a\n') return 'image/png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'image/gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/** Type and dimensions of an image's bytes; width and height are 0 when the header cannot be read. */
export function imageFacts(bytes: Uint8Array): ImageFacts {
  const type = detectImageType(bytes);
  if (!type) return { type: undefined, width: 0, height: 0 };
  try {
    const size = readers[type].calculate(bytes);
    return { type, width: size.width ?? 0, height: size.height ?? 0 };
  } catch {
    return { type, width: 0, height: 0 };
  }
}

/** Reads only as much of the file as needed: the whole file is never more than the size limit by then. */
export async function readImageFacts(file: Blob): Promise<ImageFacts> {
  return imageFacts(new Uint8Array(await file.arrayBuffer()));
}
