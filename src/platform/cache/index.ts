// The cache ring's public API. Import from here ('../platform/cache/index.js').
export {
  createCacheRing,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type CacheRing,
  type CacheRingOptions,
  type CacheRingEvents,
  type CacheRingEventName,
  type CacheRingListener,
  type CacheNodeStatus,
  type CacheNodeStateName,
  type CacheOperation,
} from './cache-ring.js';
export { registerCacheMetrics } from './cache-metrics.js';
export { parseCacheNodes, cacheNodeSpecProblems, formatCacheNodeAddress, type CacheNodeSpec } from './node-spec.js';
export { HashRing, murmur3, DEFAULT_VIRTUAL_NODES, type HashRingOptions } from './hash-ring.js';
export { NodeHealth, defaultProbeBackoff, type NodeHealthState, type ProbeBackoff, type NodeHealthOptions } from './node-health.js';
