import { Redis } from 'ioredis';
import { invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import { HashRing, DEFAULT_VIRTUAL_NODES } from './hash-ring.js';
import { NodeHealth, type ProbeBackoff } from './node-health.js';
import { systemClock, type Clock } from '../clock.js';
import { formatCacheNodeAddress, type CacheNodeSpec } from './node-spec.js';

// The cache ring: every key lives on two Redis nodes chosen by consistent hashing. The ring is a
// cache, so it never fails a caller: a node that errors or times out is marked down and skipped,
// reads fall back to the other replica, and when both are gone a read is a miss and a write is a
// no-op. What it must never do is serve a value that was deleted or replaced; how it avoids that:
//
// - A node coming back from being down is FLUSHED before it is used again (it may have missed
//   deletes and writes while it was away); its keys are refilled from the other replica by reads
//   ("read repair") or by the callers' normal cache fills. A node that was merely never reached
//   since this process started is not flushed.
// - delete() removes a key from its replicas in reverse ring order (second replica, then first),
//   and a read repair copies from the second replica to the first and then checks that the second
//   still holds the same value (undoing the copy otherwise). Together these mean a repair racing a
//   delete cannot leave the deleted value behind on the first replica.
// - delete() also sends a best-effort DEL to replicas this process considers down, without
//   waiting for it: another process (gateway worker) may still be using that node.
//
// Known limit: each process keeps its own view of node health. If a node is unreachable for one
// process only (say a stalled connection) while another keeps using it, a delete from the first
// process reaches the node late or never, until the first process's probe flushes it.

export type CacheOperation = 'get' | 'set' | 'delete' | 'increment' | 'repair' | 'probe';
export type CacheNodeStateName = 'up' | 'down';

export interface CacheRingEvents {
  /** A node returned a value for the key. */
  hit: { node: string; key: string };
  /** A node answered that it does not hold the key. */
  miss: { node: string; key: string };
  /** A command to a node failed or timed out (the call itself still succeeds). */
  error: { node: string; operation: CacheOperation; error: Error };
  /** A node went down or came back up. */
  stateChange: { node: string; state: CacheNodeStateName; previous: CacheNodeStateName; reason?: string };
  /** A node that missed a key was refilled from the other replica. */
  repair: { node: string; key: string };
}

export type CacheRingEventName = keyof CacheRingEvents;
export type CacheRingListener<E extends CacheRingEventName> = (event: CacheRingEvents[E]) => void;

export interface CacheNodeStatus {
  name: string;
  /** "host:port" */
  address: string;
  state: CacheNodeStateName;
  /** When the node entered its current state (ms since epoch, from the ring's clock). */
  since: number;
  /** While down: when the next probe is due, and how many probes failed so far. */
  nextProbeAt?: number;
  failedProbes?: number;
  /** While down: the failure that took it down. */
  reason?: string;
  /** Share of the hash space the node owns as primary (0..1; all nodes sum to 1). */
  keyShare: number;
}

export interface CacheRingOptions {
  nodes: readonly CacheNodeSpec[];
  logger: Logger;
  /** A command slower than this counts as a failure and takes the node down. Default 200 ms. */
  commandTimeoutMs?: number;
  /** Budget for (re)connecting to a node during a probe. Default 500 ms. */
  connectTimeoutMs?: number;
  /** Delays between probes of a down node. Default 250 ms doubling up to 5 s. */
  probeBackoff?: Partial<ProbeBackoff>;
  /** Time source for health bookkeeping (tests inject one). */
  clock?: Clock;
  /** Points per node on the ring. Default 160. */
  virtualNodes?: number;
  /** Replicas per key. Default 2. */
  replicas?: number;
  /** ACL user and password every node is logged in to with (Redis's default user is off in our deployments). */
  username?: string | undefined;
  password?: string | undefined;
}

export interface CacheRing {
  /** The value, from the first healthy replica that has it; null on a miss or when no replica answers. */
  get(key: string): Promise<Buffer | null>;
  /** get() parsed as JSON; null on a miss or unparsable value. */
  getJson<T>(key: string): Promise<T | null>;
  /** Writes to every healthy replica. Resolves (never rejects) with the number of replicas written (0..2). */
  set(key: string, value: Buffer | string, ttlSeconds: number): Promise<number>;
  /** set() of JSON.stringify(value). */
  setJson(key: string, value: unknown, ttlSeconds: number): Promise<number>;
  /**
   * Like set(), for entries that must never be evicted under memory pressure (revocations): the
   * key carries no Redis TTL, so `volatile-lru` never picks it; its expiry is kept in an index
   * that every such write sweeps (a key past its expiry may still be read until then).
   */
  setNeverEvicted(key: string, value: Buffer | string, ttlSeconds: number): Promise<number>;
  /** Removes the keys from every replica. Never rejects. */
  delete(...keys: string[]): Promise<void>;
  /**
   * Fixed-window counter: increments the key on every healthy replica, starting a window of
   * `windowSeconds` on first use, and returns the highest count seen; null when no replica answered
   * (the caller chooses whether to fail open). Never evicted, like setNeverEvicted().
   */
  incrementWithin(key: string, windowSeconds: number): Promise<number | null>;
  /** Names of the nodes holding a key, primary first. */
  replicasFor(key: string): string[];
  /** Every node with its state and key share, in the order given at creation. */
  nodeStates(): CacheNodeStatus[];
  /** Resolves once every node has been tried once (up or down); the ring is usable before that. */
  ready(): Promise<void>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends CacheRingEventName>(event: E, listener: CacheRingListener<E>): () => void;
  /** Disconnects from every node and stops probing. */
  close(): Promise<void>;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 200;

/**
 * Per node, the expiry (ms, server clock) of every never-evicted key. It carries no TTL itself,
 * so it is not evicted either; a flush on a node's return clears it with everything else.
 */
export const NEVER_EVICTED_INDEX = 'easel:never-evicted';

// Shared by both scripts: the server's clock in ms, then up to 100 expired keys removed.
const sweepLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, k in ipairs(expired) do redis.call('DEL', k) end
if #expired > 0 then redis.call('ZREM', KEYS[2], unpack(expired)) end
`;

/** KEYS: key, index. ARGV: value, ttl ms. */
const setNeverEvictedLua = `${sweepLua}
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])
return 1
`;

/** KEYS: key, index. ARGV: window ms. A window past its end starts again at 1. */
const incrementWithinLua = `
local t0 = redis.call('TIME')
local ends = redis.call('ZSCORE', KEYS[2], KEYS[1])
if ends and tonumber(ends) <= tonumber(t0[1]) * 1000 + math.floor(tonumber(t0[2]) / 1000) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
end
${sweepLua}
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), KEYS[1])
else redis.call('ZADD', KEYS[2], 'NX', now + tonumber(ARGV[1]), KEYS[1]) end
return count
`;
export const DEFAULT_CONNECT_TIMEOUT_MS = 500;

interface RingNode {
  readonly spec: CacheNodeSpec;
  readonly address: string;
  /** Replaced by a fresh client whenever a probe finds the connection not usable. */
  client: Redis;
  readonly health: NodeHealth;
  probing: boolean;
  /** Last time the node sent us anything (clock ms): tells a busy node from a dead one. */
  lastReplyAt: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false };

export function createCacheRing(options: CacheRingOptions): CacheRing {
  return new RedisCacheRing(options);
}

class RedisCacheRing implements CacheRing {
  readonly #logger: Logger;
  readonly #nodes: RingNode[];
  readonly #byName = new Map<string, RingNode>();
  readonly #ring: HashRing;
  readonly #replicaCount: number;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  readonly #clock: Clock;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #listeners = new Map<CacheRingEventName, Set<(event: never) => void>>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #ready: Promise<void>;
  #probeTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: CacheRingOptions) {
    if (options.nodes.length === 0) throw invalidArgument('the cache ring needs at least one node');
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#replicaCount = options.replicas ?? 2;
    this.#username = options.username;
    this.#password = options.password;
    this.#logger = options.logger.child({ component: 'cache-ring' });
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#ring = new HashRing(
      options.nodes.map((n) => n.name),
      { virtualNodes: options.virtualNodes ?? DEFAULT_VIRTUAL_NODES },
    );
    this.#nodes = options.nodes.map((spec) => {
      const node: RingNode = { spec, address: formatCacheNodeAddress(spec), client: undefined as unknown as Redis, health: new NodeHealth({ clock, backoff: options.probeBackoff }), probing: false, lastReplyAt: 0 };
      node.client = this.#newClient(node);
      this.#byName.set(spec.name, node);
      return node;
    });
    this.#ready = Promise.all(this.#nodes.map((node) => this.#probe(node))).then(() => undefined);
  }

  #newClient(node: RingNode): Redis {
    const { spec } = node;
    const client = new Redis({
      host: spec.host,
      port: spec.port,
      // Fail fast instead of queueing: nothing is sent to a node that is not connected, nothing
      // is retried by the client, and reconnecting is the prober's job (retryStrategy: none).
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
      autoResubscribe: false,
      connectTimeout: this.#connectTimeoutMs,
      commandTimeout: this.#commandTimeoutMs,
      ...(this.#username === undefined ? {} : { username: this.#username }),
      ...(this.#password === undefined ? {} : { password: this.#password }),
    });
    client.on('error', (error: Error) => this.#logger.debug({ node: spec.name, err: error }, 'cache node connection error'));
    // Any bytes from the node prove it alive, even replies to commands that already timed out.
    client.on('connect', () => client.stream.on('data', () => void (node.lastReplyAt = this.#clock.now())));
    // A dropped connection takes the node down at once, before any command has to fail on it.
    client.on('end', () => {
      if (!this.#closed && node.client === client) this.#markDown(node, 'connection closed');
    });
    return client;
  }

  // ---- reads and writes -------------------------------------------------------------------------

  async get(key: string): Promise<Buffer | null> {
    const missedOnUpNodes: RingNode[] = [];
    for (const node of this.#replicas(key)) {
      if (!node.health.isUp) continue;
      // After a miss on an earlier replica, also fetch the remaining TTL, to repair with it.
      const repairing = missedOnUpNodes.length > 0;
      const outcome = await this.#run(node, 'get', async (client) => {
        if (!repairing) return { value: await client.getBuffer(key), ttlMs: -1 };
        const [value, ttlMs] = await Promise.all([client.getBuffer(key), client.pttl(key)]);
        return { value, ttlMs };
      });
      if (!outcome.ok) continue;
      const { value, ttlMs } = outcome.value;
      if (value === null) {
        this.#emit('miss', { node: node.spec.name, key });
        missedOnUpNodes.push(node);
        continue;
      }
      this.#emit('hit', { node: node.spec.name, key });
      if (repairing) this.#inBackground(this.#repair(key, value, ttlMs, node, missedOnUpNodes));
      return value;
    }
    return null;
  }

  async getJson<T>(key: string): Promise<T | null> {
    const value = await this.get(key);
    if (value === null) return null;
    try {
      return JSON.parse(value.toString('utf8')) as T;
    } catch (error) {
      this.#logger.warn({ key, err: error }, 'cache value is not JSON; treating as a miss');
      return null;
    }
  }

  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<number> {
    const ttlMs = toMilliseconds(ttlSeconds, 'ttlSeconds');
    const outcomes = await Promise.all(
      this.#replicas(key)
        .filter((node) => node.health.isUp)
        .map((node) => this.#run(node, 'set', (client) => client.set(key, value, 'PX', ttlMs))),
    );
    return outcomes.filter((o) => o.ok).length;
  }

  setJson(key: string, value: unknown, ttlSeconds: number): Promise<number> {
    return this.set(key, JSON.stringify(value), ttlSeconds);
  }

  async setNeverEvicted(key: string, value: Buffer | string, ttlSeconds: number): Promise<number> {
    const ttlMs = toMilliseconds(ttlSeconds, 'ttlSeconds');
    const outcomes = await Promise.all(
      this.#replicas(key)
        .filter((node) => node.health.isUp)
        .map((node) => this.#run(node, 'set', (client) => client.eval(setNeverEvictedLua, 2, key, NEVER_EVICTED_INDEX, value, ttlMs))),
    );
    return outcomes.filter((o) => o.ok).length;
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    // keysByRank[r]: for each node, the keys for which it is replica number r.
    const keysByRank: Array<Map<RingNode, string[]>> = [];
    for (const key of new Set(keys)) {
      this.#replicas(key).forEach((node, rank) => {
        const byNode = (keysByRank[rank] ??= new Map());
        const list = byNode.get(node);
        if (list) list.push(key);
        else byNode.set(node, [key]);
      });
    }
    // Last replica first: see the note at the top about racing read repairs.
    for (let rank = keysByRank.length - 1; rank >= 0; rank--) {
      await Promise.all(
        [...keysByRank[rank]!].map(async ([node, nodeKeys]) => {
          if (node.health.isUp) {
            await this.#run(node, 'delete', (client) => client.del(...nodeKeys));
          } else if (node.client.status === 'ready') {
            // Down for us, maybe not for other processes: try, but neither wait nor count on it.
            node.client.del(...nodeKeys).catch(() => undefined);
          }
        }),
      );
    }
  }

  async incrementWithin(key: string, windowSeconds: number): Promise<number | null> {
    const windowMs = toMilliseconds(windowSeconds, 'windowSeconds');
    const outcomes = await Promise.all(
      this.#replicas(key)
        .filter((node) => node.health.isUp)
        .map((node) =>
          // The window starts with the first increment, atomically with it (one script).
          this.#run(node, 'increment', async (client) => Number(await client.eval(incrementWithinLua, 2, key, NEVER_EVICTED_INDEX, windowMs))),
        ),
    );
    const counts = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    return counts.length === 0 ? null : Math.max(...counts);
  }

  // ---- introspection ----------------------------------------------------------------------------

  replicasFor(key: string): string[] {
    return this.#ring.nodesFor(key, this.#replicaCount);
  }

  nodeStates(): CacheNodeStatus[] {
    const shares = this.#ring.primaryShares();
    return this.#nodes.map((node) => {
      const health = node.health.current;
      const base = { name: node.spec.name, address: node.address, since: health.since, keyShare: shares.get(node.spec.name) ?? 0 };
      return health.state === 'up'
        ? { ...base, state: 'up' as const }
        : { ...base, state: 'down' as const, nextProbeAt: health.nextProbeAt, failedProbes: health.failedProbes, reason: health.reason };
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  on<E extends CacheRingEventName>(event: E, listener: CacheRingListener<E>): () => void {
    let listeners = this.#listeners.get(event);
    if (!listeners) this.#listeners.set(event, (listeners = new Set()));
    listeners.add(listener as (event: never) => void);
    return () => void listeners.delete(listener as (event: never) => void);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probeTimer);
    await Promise.allSettled([this.#ready, ...this.#background]);
    for (const node of this.#nodes) node.client.disconnect();
  }

  // ---- internals --------------------------------------------------------------------------------

  #replicas(key: string): RingNode[] {
    return this.#ring.nodesFor(key, this.#replicaCount).map((name) => this.#byName.get(name)!);
  }

  /** Runs a command on a node; a failure is reported, may take the node down (see #seemsDown) and never escapes. */
  async #run<T>(node: RingNode, operation: CacheOperation, command: (client: Redis) => Promise<T>): Promise<Outcome<T>> {
    try {
      const value = await command(node.client);
      node.lastReplyAt = this.#clock.now();
      return { ok: true, value };
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      this.#emit('error', { node: node.spec.name, operation, error });
      if (error.name === 'ReplyError') {
        // Redis answered with an error (wrong type, out of memory...): alive, just unhelpful.
        node.lastReplyAt = this.#clock.now();
        this.#logger.warn({ node: node.spec.name, operation, err: error }, 'cache node answered with an error');
      } else if (await this.#seemsDown(node)) {
        this.#markDown(node, `${operation} failed: ${error.message}`);
      }
      return { ok: false };
    }
  }

  /**
   * After a failed command: a node is down when its connection is gone, or when it has sent
   * nothing for half a command timeout. A node that keeps answering is busy, not dead (a burst of
   * large writes can make single commands time out), and taking it down would flush it for
   * nothing. Data already received but not yet read (the event loop was busy) is processed first,
   * so a stalled event loop is not mistaken for a silent node either.
   */
  async #seemsDown(node: RingNode): Promise<boolean> {
    if (node.client.status !== 'ready') return true;
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.#clock.now() - node.lastReplyAt >= this.#commandTimeoutMs / 2;
  }

  /** Copies a value found on `source` to the replicas before it that missed, then undoes the copy if `source` no longer holds that value. */
  async #repair(key: string, value: Buffer, ttlMs: number, source: RingNode, targets: RingNode[]): Promise<void> {
    if (ttlMs === -2) return; // expired in between
    // No TTL: a never-evicted entry, whose expiry lives in the source's index; a copy without it
    // would never be swept. The other replica still answers for it.
    if (ttlMs === -1) return;
    const repaired: RingNode[] = [];
    for (const target of targets) {
      if (!target.health.isUp) continue;
      const outcome = await this.#run(target, 'repair', (client) => (ttlMs > 0 ? client.set(key, value, 'PX', ttlMs) : client.set(key, value)));
      if (outcome.ok) repaired.push(target);
    }
    if (repaired.length === 0) return;
    const check = await this.#run(source, 'repair', (client) => client.getBuffer(key));
    if (check.ok && check.value !== null && check.value.equals(value)) {
      for (const target of repaired) this.#emit('repair', { node: target.spec.name, key });
      return;
    }
    // Deleted or replaced meanwhile (or the source stopped answering): do not leave the copy behind.
    await Promise.all(repaired.map((target) => this.#run(target, 'repair', (client) => client.del(key))));
  }

  #markDown(node: RingNode, reason: string): void {
    if (!node.health.markDown(reason)) return;
    this.#logger.warn({ node: node.spec.name, address: node.address, reason }, 'cache node down');
    this.#emit('stateChange', { node: node.spec.name, state: 'down', previous: 'up', reason });
    this.#scheduleProbes();
  }

  /** Connects if needed, PINGs, and flushes a node returning from an outage; up only when all of that succeeded. */
  async #probe(node: RingNode): Promise<void> {
    if (node.probing || this.#closed) return;
    node.probing = true;
    try {
      let { client } = node;
      if (client.status !== 'ready' || !client.stream?.writable) {
        // Always a fresh client: one whose connect timed out can be left half-open (seen when the
        // event loop was blocked at start-up: "ready" over an ended stream) and never recover.
        client.removeAllListeners();
        client.on('error', () => undefined);
        client.disconnect();
        client = node.client = this.#newClient(node);
        await withTimeout(client.connect(), this.#connectTimeoutMs, () => client.disconnect());
      }
      await client.ping();
      node.lastReplyAt = this.#clock.now();
      // It may hold values deleted or replaced while it was away: start it empty.
      if (node.health.everUp) await client.flushdb('ASYNC');
      if (this.#closed) return;
      if (node.health.markUp()) {
        this.#logger.info({ node: node.spec.name, address: node.address }, 'cache node up');
        this.#emit('stateChange', { node: node.spec.name, state: 'up', previous: 'down' });
      }
    } catch (error) {
      node.health.probeFailed();
      this.#logger.debug({ node: node.spec.name, err: error }, 'cache node probe failed');
    } finally {
      node.probing = false;
      this.#scheduleProbes();
    }
  }

  /** One timer for all down nodes, set for the soonest due probe. */
  #scheduleProbes(): void {
    if (this.#closed) return;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    let soonest: number | undefined;
    for (const node of this.#nodes) {
      if (node.probing) continue;
      const wait = node.health.msUntilProbe();
      if (wait !== undefined && (soonest === undefined || wait < soonest)) soonest = wait;
    }
    if (soonest === undefined) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      for (const node of this.#nodes) {
        if (!node.probing && node.health.isProbeDue()) this.#inBackground(this.#probe(node));
      }
      this.#scheduleProbes();
    }, soonest);
    this.#probeTimer.unref();
  }

  #inBackground(work: Promise<unknown>): void {
    this.#background.add(work);
    void work.finally(() => this.#background.delete(work));
  }

  #emit<E extends CacheRingEventName>(event: E, payload: CacheRingEvents[E]): void {
    const listeners = this.#listeners.get(event);
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        (listener as CacheRingListener<E>)(payload);
      } catch (error) {
        this.#logger.warn({ event, err: error }, 'cache ring listener threw');
      }
    }
  }
}

function toMilliseconds(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds <= 0) throw invalidArgument(`${what} must be a positive number of seconds, got ${seconds}`);
  return Math.max(1, Math.round(seconds * 1000));
}

function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`timed out after ${ms} ms`));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
