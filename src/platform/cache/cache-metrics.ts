import { Counter, Gauge, type Registry } from 'prom-client';
import type { CacheRing } from './cache-ring.js';

/**
 * Exports the ring's per-node behaviour to a process's registry:
 *   cache_hits_total{node}, cache_misses_total{node}, cache_errors_total{node,operation},
 *   cache_repairs_total{node}, cache_node_state_changes_total{node,state},
 *   cache_node_up{node} (1 up, 0 down), cache_node_key_share{node} (0..1, as primary).
 * Every node's series exist from the start (at 0). Returns a function that stops counting.
 */
export function registerCacheMetrics(ring: Pick<CacheRing, 'on' | 'nodeStates'>, registry: Registry): () => void {
  const registers = [registry];
  const hits = new Counter({ name: 'cache_hits_total', help: 'Cache ring reads answered with a value, by node', labelNames: ['node'] as const, registers });
  const misses = new Counter({ name: 'cache_misses_total', help: 'Cache ring reads a node answered without a value, by node', labelNames: ['node'] as const, registers });
  const errors = new Counter({
    name: 'cache_errors_total',
    help: 'Cache ring commands that failed or timed out, by node and operation',
    labelNames: ['node', 'operation'] as const,
    registers,
  });
  const repairs = new Counter({ name: 'cache_repairs_total', help: 'Keys copied back to a replica that missed them, by node', labelNames: ['node'] as const, registers });
  const stateChanges = new Counter({
    name: 'cache_node_state_changes_total',
    help: 'Cache node transitions, by node and the state entered',
    labelNames: ['node', 'state'] as const,
    registers,
  });
  new Gauge({
    name: 'cache_node_up',
    help: 'Whether this process currently uses the cache node (1) or considers it down (0)',
    labelNames: ['node'] as const,
    registers,
    collect() {
      for (const node of ring.nodeStates()) this.set({ node: node.name }, node.state === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cache_node_key_share',
    help: 'Share of the hash space the cache node owns as primary replica',
    labelNames: ['node'] as const,
    registers,
    collect() {
      for (const node of ring.nodeStates()) this.set({ node: node.name }, node.keyShare);
    },
  });

  for (const { name } of ring.nodeStates()) {
    hits.inc({ node: name }, 0);
    misses.inc({ node: name }, 0);
    repairs.inc({ node: name }, 0);
  }

  const unsubscribe = [
    ring.on('hit', ({ node }) => hits.inc({ node })),
    ring.on('miss', ({ node }) => misses.inc({ node })),
    ring.on('error', ({ node, operation }) => errors.inc({ node, operation })),
    ring.on('repair', ({ node }) => repairs.inc({ node })),
    ring.on('stateChange', ({ node, state }) => stateChanges.inc({ node, state })),
  ];
  return () => unsubscribe.forEach((stop) => stop());
}
