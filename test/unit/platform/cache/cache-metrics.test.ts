import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../../../src/platform/metrics.js';
import { registerCacheMetrics } from '../../../../src/platform/cache/cache-metrics.js';
import type { CacheNodeStatus, CacheRing, CacheRingEventName, CacheRingEvents } from '../../../../src/platform/cache/cache-ring.js';

/** A stand-in ring: its events and node states are whatever the test says. */
function fakeRing(states: CacheNodeStatus[]) {
  const listeners = new Map<CacheRingEventName, Set<(event: never) => void>>();
  const ring: Pick<CacheRing, 'on' | 'nodeStates'> = {
    nodeStates: () => states,
    on: (event, listener) => {
      const set = listeners.get(event) ?? listeners.set(event, new Set()).get(event)!;
      set.add(listener as (event: never) => void);
      return () => void set.delete(listener as (event: never) => void);
    },
  };
  const emit = <E extends CacheRingEventName>(event: E, payload: CacheRingEvents[E]) => {
    for (const listener of listeners.get(event) ?? []) (listener as (e: CacheRingEvents[E]) => void)(payload);
  };
  return { ring, emit };
}

describe('registerCacheMetrics', () => {
  it('counts hits, misses, errors and state changes per node and reports each node state and share', async () => {
    const states: CacheNodeStatus[] = [
      { name: 'cache-1', address: '127.0.0.1:6380', state: 'up', since: 0, keyShare: 0.26 },
      { name: 'cache-2', address: '127.0.0.1:6381', state: 'down', since: 0, nextProbeAt: 250, failedProbes: 0, reason: 'connection closed', keyShare: 0.74 },
    ];
    const { ring, emit } = fakeRing(states);
    const registry = createMetricsRegistry('gateway', { defaults: false });
    const stop = registerCacheMetrics(ring, registry);

    emit('hit', { node: 'cache-1', key: 'a' });
    emit('hit', { node: 'cache-1', key: 'b' });
    emit('miss', { node: 'cache-1', key: 'c' });
    emit('error', { node: 'cache-2', operation: 'get', error: new Error('Command timed out') });
    emit('stateChange', { node: 'cache-2', state: 'down', previous: 'up', reason: 'get failed' });
    emit('repair', { node: 'cache-1', key: 'c' });
    stop();
    emit('hit', { node: 'cache-1', key: 'after stop' });

    const text = await registry.metrics();
    expect(text).toContain('cache_hits_total{node="cache-1",process="gateway"} 2');
    expect(text).toContain('cache_hits_total{node="cache-2",process="gateway"} 0');
    expect(text).toContain('cache_misses_total{node="cache-1",process="gateway"} 1');
    expect(text).toContain('cache_errors_total{node="cache-2",operation="get",process="gateway"} 1');
    expect(text).toContain('cache_repairs_total{node="cache-1",process="gateway"} 1');
    expect(text).toContain('cache_node_state_changes_total{node="cache-2",state="down",process="gateway"} 1');
    expect(text).toContain('cache_node_up{node="cache-1",process="gateway"} 1');
    expect(text).toContain('cache_node_up{node="cache-2",process="gateway"} 0');
    expect(text).toContain('cache_node_key_share{node="cache-2",process="gateway"} 0.74');
  });
});
