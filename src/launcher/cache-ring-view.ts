import { HashRing, parseCacheNodes } from '../platform/cache/index.js';
import { redisAnswers } from './readiness.js';

// What `easel status` shows of the cache ring: each node, whether it answers, and the share of
// keys it holds as primary (the same ring math the gateway uses, so the shares are the real ones).

export interface CacheNodeView {
  name: string;
  address: string;
  state: 'up' | 'down';
  /** Share of keys whose primary copy lives on this node (0..1). */
  keyShare: number;
}

export type CacheNodeProbe = (host: string, port: number) => Promise<boolean>;

export async function describeCacheRing(redisNodes: string, probe: CacheNodeProbe = redisAnswers): Promise<CacheNodeView[]> {
  const nodes = parseCacheNodes(redisNodes);
  const shares = new HashRing(nodes.map((node) => node.name)).primaryShares();
  return Promise.all(nodes.map(async (node) => ({
    name: node.name,
    address: `${node.host}:${node.port}`,
    state: (await probe(node.host, node.port)) ? 'up' as const : 'down' as const,
    keyShare: shares.get(node.name) ?? 0,
  })));
}

export function formatCacheRing(view: readonly CacheNodeView[]): string[] {
  return [
    `${'CACHE NODE'.padEnd(12)} ${'ADDRESS'.padEnd(21)} ${'STATE'.padEnd(6)} KEY SHARE`,
    ...view.map((node) => `${node.name.padEnd(12)} ${node.address.padEnd(21)} ${node.state.padEnd(6)} ${(node.keyShare * 100).toFixed(1)}%`),
  ];
}
