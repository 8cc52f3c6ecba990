import { describe, expect, it } from 'vitest';
import { describeCacheRing, formatCacheRing } from '../../../src/launcher/cache-ring-view.js';

describe('the cache ring in easel status', () => {
  const spec = 'cache-1=127.0.0.1:6380,cache-2=127.0.0.1:6381,cache-3=127.0.0.1:6382,cache-4=127.0.0.1:6383';

  it('shows each node with its state and a key share near a quarter', async () => {
    const view = await describeCacheRing(spec, async (_host, port) => port !== 6382);
    expect(view.map((n) => [n.name, n.state])).toEqual([['cache-1', 'up'], ['cache-2', 'up'], ['cache-3', 'down'], ['cache-4', 'up']]);
    expect(view.reduce((sum, n) => sum + n.keyShare, 0)).toBeCloseTo(1, 6);
    for (const node of view) expect(Math.abs(node.keyShare - 0.25)).toBeLessThan(0.025);
  });

  it('prints one line per node', async () => {
    const lines = formatCacheRing(await describeCacheRing(spec, async () => true));
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^cache-1\s+127\.0\.0\.1:6380\s+up\s+\d+\.\d%$/);
  });
});
