import { describe, expect, it } from 'vitest';
import { createViewBatcher, type View } from '../../../src/gateway/view-batcher.js';
import { maxViewsPerBatch } from '../../../src/contracts/recommendations.js';
import { createLogger } from '../../../src/platform/log.js';
import { manualClock, settle } from '../../fakes/manual-clock.js';

// Views are counted in the gateway and sent in batches: one call per window, nothing lost on a
// graceful stop, bounded memory when the recommendations service is away.

const logger = createLogger({ name: 'test', level: 'silent' });

function recorder(options: { failing?: () => boolean } = {}) {
  const batches: View[][] = [];
  return {
    batches,
    send: async (views: View[]) => {
      if (options.failing?.()) throw new Error('recommendations unreachable');
      batches.push(views.map((view) => ({ ...view })));
    },
    total: () => batches.flat().reduce((sum, view) => sum + view.count, 0),
  };
}

describe('the view batcher', () => {
  it('sends the views of one window as one call, summed per image and viewer', async () => {
    const clock = manualClock();
    const sent = recorder();
    const views = createViewBatcher({ send: sent.send, logger, clock, intervalMs: 1_000 });
    for (let i = 0; i < 50; i++) views.record('img1', undefined);
    views.record('img1', 'ada');
    views.record('img1', 'ada');
    views.record('img2', undefined);
    expect(sent.batches).toEqual([]);
    clock.advance(1_000);
    await settle();
    expect(sent.batches).toHaveLength(1);
    expect(sent.batches[0]).toEqual(expect.arrayContaining([
      { imageId: 'img1', userId: undefined, count: 50 },
      { imageId: 'img1', userId: 'ada', count: 2 },
      { imageId: 'img2', userId: undefined, count: 1 },
    ]));
    clock.advance(5_000);
    await settle();
    expect(sent.batches).toHaveLength(1);
  });

  it('sends before the window ends when it holds a full batch of entries', async () => {
    const clock = manualClock();
    const sent = recorder();
    const views = createViewBatcher({ send: sent.send, logger, clock, intervalMs: 60_000, maxEntries: 10 });
    for (let i = 0; i < 10; i++) views.record(`img${i}`, undefined);
    await settle();
    expect(sent.batches).toHaveLength(1);
    expect(sent.total()).toBe(10);
  });

  it('sends every pending view on a graceful stop, and views after it at once', async () => {
    const clock = manualClock();
    const sent = recorder();
    const views = createViewBatcher({ send: sent.send, logger, clock, intervalMs: 60_000 });
    for (let i = 0; i < 7; i++) views.record('img1', i % 2 ? 'ada' : undefined);
    await views.stop();
    expect(sent.total()).toBe(7);
    expect(clock.pendingTimers).toBe(0);
    views.record('img1', undefined);
    await views.flush();
    expect(sent.total()).toBe(8);
  });

  it('keeps views across a failed send and sends them with the next window', async () => {
    const clock = manualClock();
    let down = true;
    const sent = recorder({ failing: () => down });
    const views = createViewBatcher({ send: sent.send, logger, clock, intervalMs: 1_000 });
    views.record('img1', undefined);
    clock.advance(1_000);
    await settle();
    views.record('img1', undefined);
    down = false;
    clock.advance(1_000);
    await settle();
    expect(sent.batches).toEqual([[{ imageId: 'img1', userId: undefined, count: 2 }]]);
    expect(views.stats()).toMatchObject({ pendingEntries: 0, sent: 2, failedSends: 1, dropped: 0 });
  });

  it('holds at most maxHeldEntries while the service is away, dropping the oldest', async () => {
    const clock = manualClock();
    const sent = recorder({ failing: () => true });
    const views = createViewBatcher({ send: sent.send, logger, clock, intervalMs: 1_000, maxEntries: 100, maxHeldEntries: 150 });
    for (let i = 0; i < 1_000; i++) views.record(`img${i}`, undefined);
    clock.advance(1_000);
    await settle();
    await views.flush();
    expect(views.stats().pendingEntries).toBeLessThanOrEqual(150);
    expect(views.stats().dropped).toBeGreaterThanOrEqual(850);
  });

  it('splits a stop with more entries than one call takes into several calls', async () => {
    const sent = recorder();
    const views = createViewBatcher({ send: sent.send, logger, clock: manualClock(), intervalMs: 60_000, maxEntries: maxViewsPerBatch });
    // Reaching maxEntries sends on its own; stop sends the rest.
    for (let i = 0; i < maxViewsPerBatch + 20; i++) views.record(`img${i}`, undefined);
    await views.stop();
    expect(sent.batches.every((batch) => batch.length <= maxViewsPerBatch)).toBe(true);
    expect(sent.total()).toBe(maxViewsPerBatch + 20);
  });
});
