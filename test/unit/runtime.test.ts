import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/platform/repo-root.js';

// One Node.js everywhere: the version scripts/install-deps.sh installs into .toolchain/, the
// image deploy/Dockerfile builds on, the `engines` range npm checks, and the node these tests run
// on (the Makefile puts .toolchain/bin first on PATH) must agree, or a bump to one of them
// silently leaves the others behind.

const read = (path: string) => readFileSync(join(repoRoot(), path), 'utf8');
const pinned = /^node_version=(\d+\.\d+\.\d+)$/m.exec(read('scripts/install-deps.sh'))?.[1];
const major = (version: string) => Number(version.split('.')[0]);

describe('the Node.js runtime', () => {
  it('is pinned once in install-deps, and the Dockerfile builds and runs on that very version', () => {
    expect(pinned).toMatch(/^24\./);
    const images = [...read('deploy/Dockerfile').matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(images).toEqual([`node:${pinned}-bookworm-slim`, `node:${pinned}-bookworm-slim`]);
  });

  it('satisfies the engines range, and so does the node running the tests', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const minimum = Number(/^>=(\d+)$/.exec(engines)?.[1]);
    expect(minimum).toBe(major(pinned!));
    expect(major(process.versions.node)).toBeGreaterThanOrEqual(minimum);
  });

  it('comes first on PATH in every make recipe', () => {
    expect(read('Makefile')).toMatch(/^export PATH := \$\(CURDIR\)\/\.toolchain\/bin:\$\(PATH\)$/m);
  });
});
