import { describe, expect, it } from 'vitest';
import { HashRing, murmur3 } from '../../../../src/platform/cache/hash-ring.js';

const fourNodes = ['cache-1', 'cache-2', 'cache-3', 'cache-4'];
const fiveNodes = [...fourNodes, 'cache-5'];
const keys = Array.from({ length: 100_000 }, (_, i) => `image:${i}:raw`);

function placements(ring: HashRing): string[][] {
  return keys.map((key) => ring.nodesFor(key, 2));
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('abc')).toBe(0xb3dd93fa);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });
});

describe('HashRing', () => {
  it('places every key on two distinct nodes, primary first, the same way whatever the insertion order', () => {
    const ring = new HashRing(fourNodes);
    const shuffled = new HashRing(['cache-3', 'cache-1', 'cache-4', 'cache-2']);
    const sample = keys.slice(0, 20_000);
    const pairs = sample.map((key) => ring.nodesFor(key));
    expect(pairs.filter((pair) => pair.length !== 2 || pair[0] === pair[1])).toEqual([]);
    expect(sample.map((key) => shuffled.nodesFor(key))).toEqual(pairs);
    expect(sample.map((key) => ring.primaryFor(key))).toEqual(pairs.map((pair) => pair[0]));
  });

  it('returns what it has when asked for more replicas than nodes, and nothing from an empty ring', () => {
    expect(new HashRing(['only']).nodesFor('k', 2)).toEqual(['only']);
    expect(new HashRing(fourNodes).nodesFor('k', 9).sort()).toEqual(fourNodes);
    expect(new HashRing().nodesFor('k')).toEqual([]);
  });

  it('spreads 100,000 keys across four nodes within 10% of even, as primary and counting both replicas', () => {
    const ring = new HashRing(fourNodes);
    const primary = new Map(fourNodes.map((n) => [n, 0]));
    const stored = new Map(fourNodes.map((n) => [n, 0]));
    for (const [first, second] of placements(ring)) {
      primary.set(first!, primary.get(first!)! + 1);
      stored.set(first!, stored.get(first!)! + 1);
      stored.set(second!, stored.get(second!)! + 1);
    }
    for (const node of fourNodes) {
      expect(Math.abs(primary.get(node)! / 25_000 - 1)).toBeLessThan(0.1);
      expect(Math.abs(stored.get(node)! / 50_000 - 1)).toBeLessThan(0.1);
    }
  });

  it('reports primary shares that sum to 1 and agree with where keys land', () => {
    const ring = new HashRing(fourNodes);
    const shares = ring.primaryShares();
    expect([...shares.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(ring.primaryFor(key)!, (counts.get(ring.primaryFor(key)!) ?? 0) + 1);
    for (const node of fourNodes) expect(Math.abs(counts.get(node)! / keys.length - shares.get(node)!)).toBeLessThan(0.01);
  });

  it('moves about 1/5 of the keys when a fifth node joins, all of them to the new node, keeping the old primary as a replica', () => {
    const ring = new HashRing(fourNodes);
    const before = placements(ring);
    expect(ring.addNode('cache-5')).toBe(true);
    const after = placements(ring);
    let movedPrimary = 0;
    const violations: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const [oldFirst, oldSecond] = before[i]!;
      const pair = after[i]!;
      if (pair[0] !== oldFirst) {
        movedPrimary++;
        if (pair[0] !== 'cache-5') violations.push(`${keys[i]}: primary moved to ${pair[0]}`);
      }
      // The new node can only push into the pair; the old primary always stays in it.
      if (!pair.includes(oldFirst!)) violations.push(`${keys[i]}: lost its old primary`);
      if (!pair.includes('cache-5') && (pair[0] !== oldFirst || pair[1] !== oldSecond)) violations.push(`${keys[i]}: pair changed without the new node`);
    }
    expect(violations.slice(0, 5)).toEqual([]);
    expect(Math.abs(movedPrimary / keys.length / (1 / 5) - 1)).toBeLessThan(0.2);
  });

  it('moves about 1/5 of the keys when one of five leaves, only keys that lived on it, and never both replicas of a key', () => {
    const ring = new HashRing(fiveNodes);
    const before = placements(ring);
    expect(ring.removeNode('cache-3')).toBe(true);
    const after = placements(ring);
    let movedPrimary = 0;
    const violations: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const oldPair = before[i]!;
      const pair = after[i]!;
      if (pair[0] !== oldPair[0]) {
        movedPrimary++;
        if (oldPair[0] !== 'cache-3') violations.push(`${keys[i]}: moved off ${oldPair[0]}, which did not leave`);
      }
      if (oldPair.includes('cache-3')) {
        // The surviving replica keeps its copy, so one failure never loses a key.
        const survivor = oldPair.find((n) => n !== 'cache-3')!;
        if (!pair.includes(survivor)) violations.push(`${keys[i]}: lost its surviving replica ${survivor}`);
      } else if (pair[0] !== oldPair[0] || pair[1] !== oldPair[1]) {
        violations.push(`${keys[i]}: pair changed though it did not include the leaving node`);
      }
    }
    expect(violations.slice(0, 5)).toEqual([]);
    expect(Math.abs(movedPrimary / keys.length / (1 / 5) - 1)).toBeLessThan(0.2);
  });

  it('is back to the same placement after a node leaves and rejoins', () => {
    const ring = new HashRing(fiveNodes);
    const before = placements(ring).slice(0, 5_000);
    ring.removeNode('cache-2');
    ring.addNode('cache-2');
    expect(placements(ring).slice(0, 5_000)).toEqual(before);
    expect(ring.addNode('cache-2')).toBe(false);
    expect(ring.removeNode('cache-9')).toBe(false);
  });

  it('rejects duplicate and empty names', () => {
    expect(() => new HashRing(['a', 'a'])).toThrow(/duplicate/);
    expect(() => new HashRing([''])).toThrow(/non-empty/);
    expect(() => new HashRing(['a'], { virtualNodes: 0 })).toThrow(/virtualNodes/);
  });
});
