import { describe, expect, it } from 'vitest';
import { LeastOutstandingBalancer } from '../../../../src/platform/rpc/balancer.js';

describe('least-outstanding balancer', () => {
  it('rotates over idle instances', () => {
    const balancer = new LeastOutstandingBalancer();
    const hosts = ['a:1', 'b:1', 'c:1'];
    expect(Array.from({ length: 6 }, () => balancer.pick('S', hosts))).toEqual(['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
  });

  it('sends the next call to the instance with the fewest calls in flight', () => {
    const balancer = new LeastOutstandingBalancer();
    const hosts = ['a:1', 'b:1', 'c:1'];
    balancer.acquire('a:1');
    balancer.acquire('a:1');
    balancer.acquire('b:1');
    balancer.acquire('c:1');
    balancer.acquire('c:1');
    expect(balancer.pick('S', hosts)).toBe('b:1');
    balancer.release('a:1');
    balancer.release('a:1');
    expect(balancer.pick('S', hosts)).toBe('a:1');
  });

  it('skips ineligible instances (open breakers) and full ones (bulkhead)', () => {
    const balancer = new LeastOutstandingBalancer({ maxOutstanding: 2 });
    const hosts = ['a:1', 'b:1'];
    expect(balancer.pick('S', hosts, (h) => h !== 'a:1')).toBe('b:1');
    balancer.acquire('b:1');
    balancer.acquire('b:1');
    expect(balancer.pick('S', hosts, (h) => h !== 'a:1')).toBeUndefined();
    expect(balancer.allFull(hosts)).toBe(false);
    balancer.acquire('a:1');
    balancer.acquire('a:1');
    expect(balancer.allFull(hosts)).toBe(true);
    expect(balancer.pick('S', hosts)).toBeUndefined();
  });
});
