import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { detectImageType, inspectImage } from '../../../src/images/image-inspection.js';
import { bombPng, makeImage, truncatedBombPng } from '../../fixtures/images.js';
import type { AppError } from '../../../src/platform/errors.js';

const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return (error as AppError).code;
  }
}

describe('image inspection', () => {
  it.each(['png', 'jpeg', 'webp', 'gif'] as const)('reads type and dimensions of a real %s', async (format) => {
    const bytes = await makeImage(format, 300, 200);
    const inspected = await inspectImage(bytes, limits);
    expect(inspected).toEqual({ type: `image/${format}`, width: 300, height: 200, size: bytes.length, pages: 1 });
  });

  it('detects the type from the bytes, not from anything else', async () => {
    expect(detectImageType(Buffer.from('%PDF-1.7 hello'))).toBeUndefined();
    expect(detectImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(detectImageType(await makeImage('webp', 10, 10))).toBe('image/webp');
  });

  it('refuses non-images with UNSUPPORTED_MEDIA_TYPE', async () => {
    expect(await codeOf(inspectImage(Buffer.from('just some text, not an image at all'), limits))).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses an image whose header is garbage behind the right magic bytes', async () => {
    const fake = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('garbage garbage garbage')]);
    expect(await codeOf(inspectImage(fake, limits))).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses too many bytes with PAYLOAD_TOO_LARGE before looking inside', async () => {
    const png = await makeImage('png', 100, 100);
    expect(await codeOf(inspectImage(png, { ...limits, maxBytes: png.length - 1 }))).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses too many pixels with PAYLOAD_TOO_LARGE', async () => {
    const png = await makeImage('png', 100, 100);
    expect(await codeOf(inspectImage(png, { ...limits, maxPixels: 100 * 100 - 1 }))).toBe('PAYLOAD_TOO_LARGE');
    expect(await codeOf(inspectImage(png, { ...limits, maxPixels: 100 * 100 }))).toBe('no error');
  });

  it('refuses decompression bombs from their header', async () => {
    expect(await codeOf(inspectImage(bombPng(), limits))).toBe('PAYLOAD_TOO_LARGE');
    expect(await codeOf(inspectImage(truncatedBombPng(), limits))).toBe('PAYLOAD_TOO_LARGE');
  });

  it('reads the bomb header and refuses to decode it in a fresh process whose memory stays under 200 MB', () => {
    // A separate process measures the header read and sharp's decode guard (the two things the
    // service does with a bomb) alone, without the test runner's own memory in the way.
    const script = `
      import sharp from 'sharp';
      import { readFileSync } from 'node:fs';
      const bytes = readFileSync(${JSON.stringify(fileURLToPath(new URL('../../fixtures/bomb.png', import.meta.url)))});
      let peak = 0;
      const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 1);
      const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
      let decodeRefused = false;
      try { await sharp(bytes, { limitInputPixels: 40_000_000 }).resize(320).webp().toBuffer(); } catch { decodeRefused = true; }
      clearInterval(sample);
      peak = Math.max(peak, process.memoryUsage().rss);
      console.log(JSON.stringify({ width: meta.width, height: meta.height, decodeRefused, peak }));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim()) as { width: number; height: number; decodeRefused: boolean; peak: number };
    expect([report.width, report.height]).toEqual([40_000, 40_000]);
    expect(report.decodeRefused).toBe(true);
    expect(report.peak).toBeLessThan(200 * 1024 * 1024);
  });
});
