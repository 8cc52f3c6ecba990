import type { ImageType } from './image-inspection.js';

// What an original says about its author is removed before it is stored, without touching a
// pixel: the bytes are edited, never re-encoded, so an image without such metadata is stored
// exactly as uploaded (and the original contract's GET /{imgID} gives those bytes back).
//   JPEG: APP1 (EXIF, XMP) and APP13 (IPTC) segments and comments go; APP2 (the ICC colour
//         profile) stays; the EXIF orientation, if any, comes back as a minimal EXIF segment
//         holding that one tag, so the image still shows the right way up.
//   PNG:  eXIf, tEXt, zTXt, iTXt (XMP) and tIME chunks go; iCCP, sRGB, gAMA and the rest stay.
//   WebP: EXIF and XMP chunks go (and their flags in VP8X); ICCP stays.
//   GIF:  stored as uploaded (it has no EXIF; XMP in GIFs is rare and harmless to leave).
// Anything that does not parse as expected is left as it is: decoding has already accepted it.

export function stripMetadata(bytes: Buffer, type: ImageType): Buffer {
  try {
    if (type === 'image/jpeg') return stripJpeg(bytes) ?? bytes;
    if (type === 'image/png') return stripPng(bytes) ?? bytes;
    if (type === 'image/webp') return stripWebp(bytes) ?? bytes;
  } catch {
    // fall through: keep the bytes
  }
  return bytes;
}

function stripJpeg(bytes: Buffer): Buffer | undefined {
  const kept: Buffer[] = [bytes.subarray(0, 2)];
  let orientation: number | undefined;
  let offset = 2;
  let changed = false;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    // Start of scan: the compressed data and everything after it are kept as they are.
    if (marker === 0xda) {
      kept.push(bytes.subarray(offset));
      break;
    }
    const length = bytes.readUInt16BE(offset + 2);
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length) return undefined;
    const segment = bytes.subarray(offset, end);
    const isExif = marker === 0xe1 && segment.subarray(4, 10).toString('latin1') === 'Exif\0\0';
    if (isExif) orientation ??= exifOrientation(segment.subarray(10));
    if (marker === 0xe1 || marker === 0xed || marker === 0xfe) changed = true;
    else kept.push(segment);
    offset = end;
  }
  if (!changed) return undefined;
  if (orientation !== undefined && orientation !== 1) kept.splice(1, 0, orientationSegment(orientation));
  return Buffer.concat(kept);
}

/** The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block. */
function exifOrientation(tiff: Buffer): number | undefined {
  const little = tiff.subarray(0, 2).toString('latin1') === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = u32(4);
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

/** An APP1 EXIF segment with nothing but the orientation (big-endian TIFF, one IFD entry). */
function orientationSegment(orientation: number): Buffer {
  const tiff = Buffer.alloc(26);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  tiff.writeUInt16BE(1, 8); // one entry
  tiff.writeUInt16BE(0x0112, 10); // Orientation
  tiff.writeUInt16BE(3, 12); // SHORT
  tiff.writeUInt32BE(1, 14); // count
  tiff.writeUInt16BE(orientation, 18);
  tiff.writeUInt32BE(0, 22); // no next IFD
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([header, body]);
}

const pngDropped = new Set(['eXIf', 'tEXt', 'zTXt', 'iTXt', 'tIME']);

function stripPng(bytes: Buffer): Buffer | undefined {
  const kept: Buffer[] = [bytes.subarray(0, 8)];
  let offset = 8;
  let changed = false;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.subarray(offset + 4, offset + 8).toString('latin1');
    const end = offset + 12 + length;
    if (end > bytes.length) return undefined;
    if (pngDropped.has(type)) changed = true;
    else kept.push(bytes.subarray(offset, end));
    offset = end;
    if (type === 'IEND') break;
  }
  return changed ? Buffer.concat(kept) : undefined;
}

function stripWebp(bytes: Buffer): Buffer | undefined {
  const kept: Buffer[] = [];
  let offset = 12;
  let changed = false;
  while (offset + 8 <= bytes.length) {
    const type = bytes.subarray(offset, offset + 4).toString('latin1');
    const size = bytes.readUInt32LE(offset + 4);
    const end = offset + 8 + size + (size % 2);
    if (end > bytes.length + 1) return undefined;
    const chunk = Buffer.from(bytes.subarray(offset, Math.min(end, bytes.length)));
    if (type === 'EXIF' || type === 'XMP ') changed = true;
    else {
      // VP8X flags: 0x08 EXIF, 0x04 XMP present.
      if (type === 'VP8X' && chunk.length > 8) chunk[8] = chunk[8]! & ~0x0c;
      kept.push(chunk);
    }
    offset = end;
  }
  if (!changed) return undefined;
  const body = Buffer.concat(kept);
  const header = Buffer.from(bytes.subarray(0, 12));
  header.writeUInt32LE(body.length + 4, 4);
  return Buffer.concat([header, body]);
}
