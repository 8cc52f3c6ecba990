// Consistent hashing over stable node NAMES (never addresses: a node that moves to another
// host keeps its keys). Each node owns `virtualNodes` points on a 32-bit circle; a key belongs to
// the first points clockwise from its hash, and its replicas are the first `count` DISTINCT
// physical nodes met on that walk. Pure: no I/O, no clock.
//
// Placement is stratified and antithetic: the circle is cut into `virtualNodes` equal segments;
// a node puts its i-th point at a hashed offset inside segment i for the first half of its points,
// and at the mirrored offset (segment end minus offset) for the second half. A node's points
// depend only on its own name, so joins and leaves move only the keys they must; the mirroring
// makes a node own the gap after a point as well as the gap before one, which evens out shares.
// Measured over 500 random 4-name sets with 160 points (share of the circle within 10% of even):
//   placement                   primary only   both replicas
//   random points (classic)         58%            85%
//   stratified                      64%            98%
//   stratified + mirrored (this)    78%            99.6%   (320 points: 98% / 100%)

export const DEFAULT_VIRTUAL_NODES = 160;
const CIRCLE = 2 ** 32;

/**
 * MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `text`. Hand-written because it is small, fast
 * (no allocation beyond the encoding) and spreads similar inputs ("cache-1#17", "cache-1#18") well.
 */
export function murmur3(text: string, seed = 0): number {
  const bytes = Buffer.from(text, 'utf8');
  const length = bytes.length;
  const blocks = length - (length % 4);
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface HashRingOptions {
  /** Points per physical node; more points, smoother spread, bigger table. Default 160. */
  virtualNodes?: number;
}

export class HashRing {
  readonly virtualNodes: number;
  #names: string[] = [];
  /** Sorted point positions, and the index into #names owning each point (parallel arrays). */
  #positions = new Uint32Array(0);
  #owners = new Uint32Array(0);

  constructor(nodeNames: Iterable<string> = [], options: HashRingOptions = {}) {
    this.virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    if (!Number.isInteger(this.virtualNodes) || this.virtualNodes < 1) throw new Error(`virtualNodes must be a positive integer, got ${this.virtualNodes}`);
    for (const name of nodeNames) this.#insertName(name);
    this.#rebuild();
  }

  /** Node names, sorted. */
  get nodes(): readonly string[] {
    return [...this.#names].sort();
  }

  get size(): number {
    return this.#names.length;
  }

  has(name: string): boolean {
    return this.#names.includes(name);
  }

  /** Adds a node; returns false when it was already there. */
  addNode(name: string): boolean {
    if (this.has(name)) return false;
    this.#insertName(name);
    this.#rebuild();
    return true;
  }

  /** Removes a node; returns false when it was not there. */
  removeNode(name: string): boolean {
    const index = this.#names.indexOf(name);
    if (index < 0) return false;
    this.#names.splice(index, 1);
    this.#rebuild();
    return true;
  }

  /**
   * The first `count` distinct physical nodes clockwise from the key's hash, primary first.
   * Fewer when the ring has fewer nodes; empty for an empty ring.
   */
  nodesFor(key: string, count = 2): string[] {
    const points = this.#positions.length;
    if (points === 0 || count <= 0) return [];
    const wanted = Math.min(count, this.#names.length);
    const result: string[] = [];
    let index = this.#firstPointAtOrAfter(murmur3(key));
    for (let visited = 0; visited < points && result.length < wanted; visited++) {
      const name = this.#names[this.#owners[index]!]!;
      if (!result.includes(name)) result.push(name);
      index = index + 1 === points ? 0 : index + 1;
    }
    return result;
  }

  /** The primary node for a key, or undefined for an empty ring. */
  primaryFor(key: string): string | undefined {
    return this.nodesFor(key, 1)[0];
  }

  /** Share of the hash circle each node owns as primary (sums to 1). */
  primaryShares(): Map<string, number> {
    const shares = new Map<string, number>(this.nodes.map((n) => [n, 0]));
    const points = this.#positions.length;
    if (points === 0) return shares;
    if (this.#names.length === 1) return new Map([[this.#names[0]!, 1]]);
    for (let i = 0; i < points; i++) {
      // Point i owns the arc (previous point, point i]; the first point's arc wraps around zero.
      const previous = i === 0 ? this.#positions[points - 1]! - CIRCLE : this.#positions[i - 1]!;
      const name = this.#names[this.#owners[i]!]!;
      shares.set(name, shares.get(name)! + (this.#positions[i]! - previous) / CIRCLE);
    }
    return shares;
  }

  #insertName(name: string): void {
    if (typeof name !== 'string' || name.length === 0) throw new Error('a ring node needs a non-empty name');
    if (this.#names.includes(name)) throw new Error(`duplicate ring node "${name}"`);
    this.#names.push(name);
  }

  #rebuild(): void {
    const entries: Array<{ position: number; owner: number }> = [];
    const count = this.virtualNodes;
    const segment = Math.floor(CIRCLE / count);
    const half = Math.floor(count / 2);
    this.#names.forEach((name, owner) => {
      for (let v = 0; v < count; v++) {
        // Points in the second half mirror those of the first half inside their segments.
        const offset = v >= half && v < 2 * half ? segment - 1 - (murmur3(`${name}#${v - half}`) % segment) : murmur3(`${name}#${v}`) % segment;
        entries.push({ position: Math.floor((v * CIRCLE) / count) + offset, owner });
      }
    });
    // Ties (vanishingly rare) break by name, so placement never depends on insertion order.
    entries.sort((a, b) => a.position - b.position || compare(this.#names[a.owner]!, this.#names[b.owner]!));
    this.#positions = Uint32Array.from(entries, (e) => e.position);
    this.#owners = Uint32Array.from(entries, (e) => e.owner);
  }

  /** Binary search: index of the first point >= hash, wrapping to 0 past the end. */
  #firstPointAtOrAfter(hash: number): number {
    let low = 0;
    let high = this.#positions.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#positions[middle]! < hash) low = middle + 1;
      else high = middle;
    }
    return low === this.#positions.length ? 0 : low;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
