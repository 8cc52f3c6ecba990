import sharp from 'sharp';

// Pictures for the browser tests that look like a novice artist's work (skies, hills, suns), so
// the screenshots show what the app is for. Deterministic for a seed.

function random(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const palettes = [
  ['#ffcf8b', '#ff7a59', '#5b3cc4', '#2b2d6e'],
  ['#b8e1ff', '#6fb1fc', '#2e7d32', '#1b4d1f'],
  ['#ffe6f0', '#f7a1c4', '#8e44ad', '#3c1a5b'],
  ['#fff3c4', '#f9c74f', '#f3722c', '#6a2c1a'],
  ['#d8f3dc', '#95d5b2', '#2d6a4f', '#081c15'],
  ['#e0fbfc', '#98c1d9', '#3d5a80', '#293241'],
];

export async function artwork(seed: number, width = 800, height = 600, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const next = random(seed);
  const [sky, glow, hill, deep] = palettes[seed % palettes.length]!;
  const hills = Array.from({ length: 3 }, (_, layer) => {
    const base = height * (0.55 + layer * 0.13);
    const points = Array.from({ length: 7 }, (_, i) => `${(i / 6) * width},${base - next() * height * 0.18}`).join(' ');
    return `<polygon points="0,${height} ${points} ${width},${height}" fill="${layer === 2 ? deep : hill}" opacity="${0.55 + layer * 0.2}"/>`;
  }).join('');
  const sun = `<circle cx="${width * (0.2 + next() * 0.6)}" cy="${height * (0.2 + next() * 0.2)}" r="${height * (0.08 + next() * 0.08)}" fill="${glow}"/>`;
  const strokes = Array.from({ length: 40 }, () =>
    `<circle cx="${next() * width}" cy="${next() * height * 0.5}" r="${1 + next() * 3}" fill="#ffffff" opacity="${0.2 + next() * 0.4}"/>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky}"/><stop offset="1" stop-color="${glow}"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>${sun}${strokes}${hills}</svg>`;
  const image = sharp(Buffer.from(svg));
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 92 }).toBuffer();
}

/** A PNG whose noise does not compress, for an upload big enough to watch. */
export async function noisyArtwork(seed: number, width: number, height: number): Promise<Buffer> {
  const base = await sharp(await artwork(seed, width, height)).removeAlpha().raw().toBuffer();
  const next = random(seed + 7);
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i]! + Math.round((next() - 0.5) * 24)));
  return sharp(base, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
}
