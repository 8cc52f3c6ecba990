import { describe, expect, it } from 'vitest';
import { LayoutError, resolveLayout } from '../../../src/launcher/layout.js';
import { nativeMemoryEnv, nodeMemoryArgs } from '../../../src/launcher/specs.js';

// Every Easel process is started with heap bounds from the layout (issue 15: each under 120 MB).

describe('memory bounds from the layout', () => {
  it('give each kind of process its own old-space limit and one young-generation limit', () => {
    const layout = resolveLayout({ dataDir: '/tmp/easel-memory-test', memory: { maxOldSpaceMb: { users: 40 } } });
    expect(nodeMemoryArgs(layout, 'users')).toEqual(['--max-old-space-size=40', `--max-semi-space-size=${layout.memory.maxSemiSpaceMb}`, '--liftoff-only', '--heap-growing-percent=10']);
    expect(nodeMemoryArgs(layout, 'gateway')[0]).toBe(`--max-old-space-size=${layout.memory.maxOldSpaceMb.gateway}`);
    for (const kind of ['gateway', 'discovery', 'users', 'images', 'recommendations'] as const) {
      expect(layout.memory.maxOldSpaceMb[kind]).toBeLessThan(120);
    }
    expect(nativeMemoryEnv).toMatchObject({ MALLOC_ARENA_MAX: '2' });
  });

  it('keep WebAssembly (undici\'s HTTP parser) off the optimizing compiler, whose compile of it is a 13 MB peak in every process', () => {
    const layout = resolveLayout({ dataDir: '/tmp/easel-memory-test' });
    for (const kind of ['gateway', 'discovery', 'users', 'images', 'recommendations'] as const) {
      expect(nodeMemoryArgs(layout, kind)).toContain('--liftoff-only');
    }
  });

  it('stop the gateway and images at the mid-tier compiler (TurboFan\'s code and compiles cost them 3-4 MB), and only them', () => {
    const layout = resolveLayout({ dataDir: '/tmp/easel-memory-test' });
    expect(nodeMemoryArgs(layout, 'gateway')).toContain('--max-opt=2');
    expect(nodeMemoryArgs(layout, 'images')).toContain('--max-opt=2');
    for (const kind of ['discovery', 'users', 'recommendations'] as const) {
      expect(nodeMemoryArgs(layout, kind).some((arg) => arg.startsWith('--max-opt'))).toBe(false);
    }
  });

  it('refuses a limit V8 cannot run in, naming it', () => {
    expect(() => resolveLayout({ memory: { maxOldSpaceMb: { images: 4 } } })).toThrow(LayoutError);
    expect(() => resolveLayout({ memory: { maxOldSpaceMb: { images: 4 } } })).toThrow(/memory\.maxOldSpaceMb\.images/);
  });
});
