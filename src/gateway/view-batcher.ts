import { Counter, Gauge, type Registry } from 'prom-client';
import { systemClock, type Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import { maxViewsPerBatch } from '../contracts/recommendations.js';

// Views counted in the gateway worker and sent to the recommendations service in batches:
// one RecordViews call (one PostgreSQL transaction) per window instead of one RPC and one
// write per GET.
//
// What can be lost: a graceful stop (SIGTERM, app.close()) sends everything first. A crash of
// the worker loses the views counted since the last send: at most one window (`intervalMs`,
// 1 s by default) or `maxEntries` distinct (image, viewer) entries, whichever came first, plus
// a batch whose send had failed and was waiting for the next window. When the recommendations
// service cannot be reached, unsent views are kept for later windows up to `maxHeldEntries`
// entries; past that the oldest are dropped (counted in `dropped`), so memory stays bounded.

export interface View {
  imageId: string;
  userId?: string;
  count: number;
}

export interface ViewBatcherOptions {
  /** Sends one batch (at most maxViewsPerBatch entries); rejects when it could not. */
  send: (views: View[]) => Promise<void>;
  logger: Logger;
  /** How often pending views are sent. Default 1000 ms. */
  intervalMs?: number;
  /** Distinct (image, viewer) entries that trigger a send before the window ends. Default maxViewsPerBatch. */
  maxEntries?: number;
  /** Entries kept while sends fail; more are dropped. Default 20 x maxEntries. */
  maxHeldEntries?: number;
  clock?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

export interface ViewBatcher {
  /** Counts one view; never waits and never fails. */
  record(imageId: string, userId: string | undefined): void;
  /** Sends every pending view now (in batches of maxViewsPerBatch). Resolves when tried. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is pending; later views are sent at once, one batch each. */
  stop(): Promise<void>;
  stats(): { pendingEntries: number; sent: number; dropped: number; failedSends: number };
}

export function createViewBatcher(options: ViewBatcherOptions): ViewBatcher {
  const intervalMs = options.intervalMs ?? 1_000;
  const maxEntries = Math.min(options.maxEntries ?? maxViewsPerBatch, maxViewsPerBatch);
  const maxHeldEntries = options.maxHeldEntries ?? maxEntries * 20;
  const clock = options.clock ?? systemClock;
  /** (image, viewer) -> views not yet sent. Insertion order is age: the oldest are dropped first. */
  let pending = new Map<string, View>();
  const stats = { sent: 0, dropped: 0, failedSends: 0 };
  let timer: unknown;
  let stopped = false;
  let flushing: Promise<void> = Promise.resolve();

  const schedule = () => {
    if (stopped || timer !== undefined) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      void flush();
    }, intervalMs);
    (timer as { unref?: () => void }).unref?.();
  };

  const add = (into: Map<string, View>, view: View) => {
    const key = `${view.imageId}\u0000${view.userId ?? ''}`;
    const known = into.get(key);
    if (known) known.count += view.count;
    else into.set(key, { ...view });
  };

  const sendAll = async (): Promise<void> => {
    const taken = pending;
    pending = new Map();
    const views = [...taken.values()];
    for (let start = 0; start < views.length; start += maxViewsPerBatch) {
      const batch = views.slice(start, start + maxViewsPerBatch);
      try {
        await options.send(batch);
        stats.sent += batch.reduce((sum, view) => sum + view.count, 0);
      } catch (error) {
        stats.failedSends++;
        options.logger.warn({ err: error, entries: batch.length }, 'could not send views; keeping them for the next window');
        // Back in front of what arrived meanwhile: they are the oldest.
        const requeued = new Map<string, View>();
        for (const view of batch) add(requeued, view);
        for (const view of pending.values()) add(requeued, view);
        pending = requeued;
      }
    }
    while (pending.size > maxHeldEntries) {
      const [oldest, view] = pending.entries().next().value as [string, View];
      pending.delete(oldest);
      stats.dropped += view.count;
    }
    if (pending.size > 0) schedule();
  };

  // One send at a time: a flush asked for during another runs after it, with what came since;
  // asked for again before that one started, it is the same flush.
  let queued: Promise<void> | undefined;
  const flush = (): Promise<void> => {
    if (queued) return queued;
    const next = flushing.catch(() => undefined).then(() => {
      queued = undefined;
      return sendAll();
    });
    queued = next;
    flushing = next;
    return next;
  };

  return {
    record(imageId, userId) {
      add(pending, { imageId, userId, count: 1 });
      if (stopped || pending.size >= maxEntries) void flush();
      else schedule();
    },
    flush,
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await flush();
    },
    stats: () => ({ pendingEntries: pending.size, ...stats }),
  };
}

/** gateway_views_pending, gateway_views_sent_total, gateway_views_dropped_total in this worker's registry. */
export function registerViewMetrics(registry: Registry, views: Pick<ViewBatcher, 'stats'>): void {
  const registers = [registry];
  new Gauge({ name: 'gateway_views_pending', help: 'Distinct (image, viewer) view entries counted but not yet sent', registers, collect() { this.set(views.stats().pendingEntries); } });
  let counted = { sent: 0, dropped: 0 };
  const sent = new Counter({ name: 'gateway_views_sent_total', help: 'Views sent to the recommendations service in batches', registers, collect: () => sync() });
  const dropped = new Counter({ name: 'gateway_views_dropped_total', help: 'Views dropped because the recommendations service stayed unreachable', registers, collect: () => sync() });
  function sync(): void {
    const now = views.stats();
    sent.inc(now.sent - counted.sent);
    dropped.inc(now.dropped - counted.dropped);
    counted = { sent: now.sent, dropped: now.dropped };
  }
}
