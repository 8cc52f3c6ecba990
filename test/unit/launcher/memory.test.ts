import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LayoutError, resolveLayout } from '../../../src/launcher/layout.js';
import { glibcMemoryEnv, jemallocCandidates, nativeMemoryEnv, nodeMemoryArgs } from '../../../src/launcher/specs.js';

const run = promisify(execFile);

// Every Easel process is started with heap bounds from the layout (issue 15: each under 120 MB).

describe('memory bounds from the layout', () => {
  it('give each kind of process its own old-space limit and one young-generation limit', () => {
    const layout = resolveLayout({ dataDir: '/tmp/easel-memory-test', memory: { maxOldSpaceMb: { users: 40 } } });
    expect(nodeMemoryArgs(layout, 'users')).toEqual(['--max-old-space-size=40', `--max-semi-space-size=${layout.memory.maxSemiSpaceMb}`, '--liftoff-only', '--heap-growing-percent=10']);
    expect(nodeMemoryArgs(layout, 'gateway')[0]).toBe(`--max-old-space-size=${layout.memory.maxOldSpaceMb.gateway}`);
    for (const kind of ['gateway', 'discovery', 'users', 'images', 'recommendations'] as const) {
      expect(layout.memory.maxOldSpaceMb[kind]).toBeLessThan(120);
    }
    expect(glibcMemoryEnv).toMatchObject({ MALLOC_ARENA_MAX: '2' });
  });

  it('keep WebAssembly (undici\'s HTTP parser) off the optimizing compiler, whose compile of it is a 13 MB peak in every process', () => {
    const layout = resolveLayout({ dataDir: '/tmp/easel-memory-test' });
    for (const kind of ['gateway', 'discovery', 'users', 'images', 'recommendations'] as const) {
      expect(nodeMemoryArgs(layout, kind)).toContain('--liftoff-only');
    }
  });

  it('preload jemalloc when it is installed, and keep glibc bounded when it is not', () => {
    const directory = mkdtempSync(join(tmpdir(), 'easel-allocator-'));
    const library = join(directory, 'libjemalloc.so.2');
    writeFileSync(library, '');
    expect(nativeMemoryEnv([join(directory, 'absent.so'), library])).toMatchObject({ LD_PRELOAD: library, MALLOC_CONF: expect.stringContaining('dirty_decay_ms:0') });
    const without = nativeMemoryEnv([join(directory, 'absent.so')]);
    expect(without).toEqual(glibcMemoryEnv);
    expect(without).not.toHaveProperty('LD_PRELOAD');
  });

  it('a node process started with these settings runs on jemalloc (make deps installs libjemalloc2)', async () => {
    const env = nativeMemoryEnv();
    expect(env.LD_PRELOAD, `none of ${jemallocCandidates.join(', ')} exists: run make deps`).toBeDefined();
    const { stdout } = await run(process.execPath, ['-e', "process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'))"], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toContain(env.LD_PRELOAD);
  });

  it('refuses a limit V8 cannot run in, naming it', () => {
    expect(() => resolveLayout({ memory: { maxOldSpaceMb: { images: 4 } } })).toThrow(LayoutError);
    expect(() => resolveLayout({ memory: { maxOldSpaceMb: { images: 4 } } })).toThrow(/memory\.maxOldSpaceMb\.images/);
  });
});
