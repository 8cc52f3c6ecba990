import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/launcher/paths.js';

// The built app stays within the budgets of the research note (web-app-anchors.md, part 4):
// JavaScript for the first page at most 170 KB gzipped, every page's chunk at most 60 KB,
// CSS at most 50 KB.

const dist = join(repoRoot(), 'web', 'dist');
const gzipped = (file: string) => gzipSync(readFileSync(join(dist, file))).length;

describe('the web app bundle', () => {
  it('is within its size budgets', () => {
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const initial = [...html.matchAll(/(?:src|href)="\/app\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]!);
    expect(initial.length).toBeGreaterThan(0);
    const initialBytes = initial.reduce((sum, file) => sum + gzipped(file), 0);
    const assets = readdirSync(join(dist, 'assets'));
    const lazy = assets.filter((file) => file.endsWith('.js') && !initial.includes(`assets/${file}`));
    const css = assets.filter((file) => file.endsWith('.css')).reduce((sum, file) => sum + gzipped(`assets/${file}`), 0);
    console.log(`first page ${(initialBytes / 1024).toFixed(1)} KB gzipped (${initial.length} files); largest page chunk ${(Math.max(0, ...lazy.map((file) => gzipped(`assets/${file}`))) / 1024).toFixed(1)} KB; CSS ${(css / 1024).toFixed(1)} KB`);
    expect(initialBytes).toBeLessThanOrEqual(170 * 1024);
    for (const file of lazy) expect(gzipped(`assets/${file}`), file).toBeLessThanOrEqual(60 * 1024);
    expect(css).toBeLessThanOrEqual(50 * 1024);
    // No source maps or stray files shipped.
    expect(assets.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(statSync(join(dist, 'favicon.svg')).size).toBeLessThan(2048);
  });
});
