import { LRUCache } from 'lru-cache';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RpcCallOptions, RpcClient } from '../platform/rpc/client.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { errorCode } from '../platform/errors.js';
import type { ImagesContract, ImageInfo, ImageVariant } from '../contracts/images.js';
import type { SharedState } from './shared-state.js';

// Image reads served from two cache tiers: an in-process hot tier in each gateway worker, then
// the cache ring shared by every worker. Both hold answers under the image's generation.
//
// Why a generation number per image instead of plain deletes: a read that missed may still be
// fetching the old version while a PATCH lands; if it wrote its result after the PATCH's
// delete, the old version would be served until the TTL ran out. Entries are keyed by the
// image's generation, which every change bumps (in the ring) before it answers, so a late write
// lands under a generation nobody reads again.
//
// The hot tier: a read asks the ring for the image's generation (a few bytes), and answers from
// this worker's memory when it holds the answer of that very generation. Only a miss reads the
// answer from the ring (and only a ring miss asks the images service). The tier is an LRU bounded
// in bytes; one entry per image and kind, so a newer generation replaces the old.
//
// The generation lease: a generation read from the ring is used again, without asking the ring,
// by reads that start within `generationLeaseMs` of the moment that ring read was sent. In return
// every change (PATCH, DELETE) waits that long after its new generation is in the ring before it
// answers. So any read that starts after a change has answered uses a ring read sent after the
// new generation was written, in any worker of any gateway: never stale, as without the lease, and
// a popular image costs each worker one ring read per lease instead of one per request. The lease
// is measured on the monotonic clock, which keeps counting while a process is frozen, so a worker
// thawed after a change holds no valid lease.
//
// What is kept is the final answer: GET /{imgID}'s JSON with its base64 blob is built once per
// generation and sent as it is; variants are kept as their bytes, sent without a copy.

type ImagesClient = RpcClient<ImagesContract['methods']>;

export interface ImageCacheSettings {
  /** Seconds an image response stays cached (in the ring and in the hot tier). */
  ttlSeconds: number;
  /** Generations must outlive every entry written under them. */
  generationTtlSeconds?: number;
  /** Bytes of answers this worker keeps in memory; 0 turns the hot tier off. Default 2 MiB (the gateway passes IMAGE_HOT_TIER_MB, 2 by default). */
  hotTierBytes?: number;
  /** Larger answers are not kept in memory (they still come from the ring). Default a quarter of hotTierBytes. */
  hotTierMaxEntryBytes?: number;
  /**
   * How long a generation read from the ring serves later reads in this worker, and how long every
   * change made here waits before it answers. Every gateway must use the same value (a reader's
   * lease may never outlast a writer's wait). Default 0: every read asks the ring.
   */
  generationLeaseMs?: number;
  /** Time source of the hot tier's TTL and of the generation lease (tests inject one). */
  clock?: Clock;
}

/** A variant's bytes as the routes send them. */
export interface VariantAnswer {
  contentType: string;
  etag: string;
  image: Buffer;
}

/** What the entity tag of a variant is, without its bytes: enough to answer a conditional request. */
export interface VariantTag {
  contentType: string;
  etag: string;
}

export interface ImageCache {
  /** The images client with reads through the cache and Modify/Delete invalidating it. */
  readonly images: ImagesClient;
  /** GET /{imgID}: the original contract's JSON answer (base64 blob, author, title, description), built once per generation. */
  originalAnswer(imageId: string, options?: RpcCallOptions): Promise<Buffer>;
  /**
   * A variant's entity tag, from the hot tier or a small ring key, never its bytes: a matching
   * If-None-Match is answered with 304 without reading the body. Undefined when not cached yet.
   */
  variantTag(imageId: string, variant: ImageVariant): Promise<VariantTag | undefined>;
  /** A variant's bytes (the original, medium or thumb). */
  variant(imageId: string, variant: ImageVariant, options?: RpcCallOptions): Promise<VariantAnswer>;
  /** The hot tier's counters, for metrics. */
  hotTierStats(): { entries: number; bytes: number; hits: number; misses: number };
}

const defaultHotTierBytes = 2 * 1024 * 1024;

const generationKey = (imageId: string) => `img:${imageId}:gen`;
const infoKey = (imageId: string, generation: string) => `img:${imageId}:${generation}:info`;
const answerKey = (imageId: string, generation: string) => `img:${imageId}:${generation}:answer`;
const variantKey = (imageId: string, generation: string, variant: ImageVariant | 'get') => `img:${imageId}:${generation}:${variant}`;
const variantTagKey = (imageId: string, generation: string, variant: ImageVariant) => `img:${imageId}:${generation}:${variant}:tag`;

type Kind = 'info' | 'answer' | 'get' | ImageVariant | `${ImageVariant}:tag`;

/** An image's generation as read from the ring (or started by the read that found none). */
interface Generation {
  generation: string;
  /** This read created it: the image had none in the ring (see generationOf). */
  fresh: boolean;
}

interface LeasedGeneration {
  /** Monotonic clock time the ring read was sent: the lease runs from there. */
  readSentAt: number;
  read: Promise<Generation>;
}

/**
 * Answers of the images service to a change that prove nothing was changed: it checks the caller
 * and the fields before it writes. NOT_FOUND is not one: a retried DELETE whose first try was
 * applied (and its answer lost) answers NOT_FOUND.
 */
const refusedUnchanged = new Set(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN']);

/** Images whose generation one worker keeps a lease on; a lease is short, so only hot images are here. */
const leasedGenerationsMax = 1024;

interface HotEntry {
  generation: string;
  value: unknown;
  bytes: number;
  /** Clock time after which the entry is not used (the ring's TTL, so both tiers age alike). */
  expiresAt: number;
}

/** How one kind of answer is stored in the ring and sized in memory. */
interface Codec<T> {
  encode(value: T): Buffer | string;
  decode(stored: Buffer): T;
  bytes(value: T): number;
}

export function createImageCache(images: ImagesClient, cache: SharedState, settings: ImageCacheSettings): ImageCache {
  const generationTtl = settings.generationTtlSeconds ?? Math.max(settings.ttlSeconds * 12, 3600);
  const hotTierBytes = settings.hotTierBytes ?? defaultHotTierBytes;
  const clock = settings.clock ?? systemClock;
  const hot = hotTierBytes > 0
    ? new LRUCache<string, HotEntry>({
      maxSize: hotTierBytes,
      maxEntrySize: settings.hotTierMaxEntryBytes ?? Math.floor(hotTierBytes / 4),
      // Keys and bookkeeping cost a little beyond the answer itself.
      sizeCalculation: (entry, key) => entry.bytes + key.length + 64,
    })
    : undefined;
  const counters = { hits: 0, misses: 0 };
  /** Fills in progress, so that a burst of misses on one answer asks the ring (and the service) once. */
  const inFlight = new Map<string, Promise<unknown>>();

  const bumpGeneration = async (imageId: string): Promise<string> => {
    // A fresh random generation rather than a counter: needs no atomic increment on two replicas.
    const next = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    await cache.set(generationKey(imageId), next, generationTtl);
    return next;
  };

  const generationInRing = async (imageId: string): Promise<Generation> => {
    const stored = await cache.get(generationKey(imageId));
    if (stored) return { generation: stored.toString(), fresh: false };
    // No generation known: never cached, expired, or lost (a node flushed on its return while the
    // other replica is unreachable). Start a fresh one before reading the service, so that entries
    // written under a lost generation can never be read again.
    return { generation: await bumpGeneration(imageId), fresh: true };
  };

  const leaseMs = settings.generationLeaseMs ?? 0;
  const leases = leaseMs > 0 ? new LRUCache<string, LeasedGeneration>({ max: leasedGenerationsMax }) : undefined;

  /**
   * The image's generation: from a ring read sent less than a lease ago (finished or still in
   * flight, so a burst of reads shares one), else from a new ring read.
   */
  const generationOf = (imageId: string): Promise<Generation> => {
    if (!leases) return generationInRing(imageId);
    const now = clock.monotonic();
    const leased = leases.get(imageId);
    if (leased && now - leased.readSentAt < leaseMs) return leased.read;
    const read = generationInRing(imageId);
    const lease: LeasedGeneration = { readSentAt: now, read };
    leases.set(imageId, lease);
    read.catch(() => forgetLease(imageId, lease));
    return read;
  };

  /** Drops this worker's lease on the image's generation (only `lease`, when given: a newer one stays). */
  const forgetLease = (imageId: string, lease?: LeasedGeneration): void => {
    if (!lease || leases?.peek(imageId) === lease) leases?.delete(imageId);
  };

  /** Resolves once every lease that any worker may hold from a ring read sent before `writtenAt` has run out. */
  const leasesRunOut = async (writtenAt: number): Promise<void> => {
    // Checked against the clock rather than trusting one timer: a timer may fire a little early.
    // The extra millisecond covers the two processes' clocks running at slightly different rates.
    for (let left = writtenAt + leaseMs + 1 - clock.monotonic(); left > 0; left = writtenAt + leaseMs + 1 - clock.monotonic()) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.ceil(left)));
    }
  };

  /**
   * Reads the service; when the image does not exist, the generation this read started is taken
   * back, so a stream of requests for made-up ids leaves nothing in the cache.
   */
  const readThrough = async <O>(imageId: string, fresh: boolean, read: () => Promise<O>): Promise<O> => {
    try {
      return await read();
    } catch (error) {
      if (fresh && errorCode(error) === 'NOT_FOUND') {
        forgetLease(imageId);
        await cache.delete(generationKey(imageId));
      }
      throw error;
    }
  };

  const fromHotTier = <T>(imageId: string, kind: Kind, generation: string): T | undefined => {
    const entry = hot?.get(`${imageId}:${kind}`);
    if (entry?.generation === generation && entry.expiresAt > clock.now()) {
      counters.hits++;
      return entry.value as T;
    }
    counters.misses++;
    return undefined;
  };

  const keepHot = <T>(imageId: string, kind: Kind, generation: string, value: T, bytes: number): void => {
    hot?.set(`${imageId}:${kind}`, { generation, value, bytes, expiresAt: clock.now() + settings.ttlSeconds * 1000 });
  };

  /** The answer of one kind under one generation: hot tier, else ring, else `load` (then both are filled). */
  const through = async <T>(imageId: string, kind: Kind, generation: string, ringKey: string, codec: Codec<T>, load: () => Promise<T>): Promise<T> => {
    const hit = fromHotTier<T>(imageId, kind, generation);
    if (hit !== undefined) return hit;
    const pending = inFlight.get(ringKey);
    if (pending) return pending as Promise<T>;
    const fill = (async () => {
      const stored = decodedOrMiss(await cache.get(ringKey), codec.decode);
      if (stored !== undefined) {
        keepHot(imageId, kind, generation, stored, codec.bytes(stored));
        return stored;
      }
      const value = await load();
      await cache.set(ringKey, codec.encode(value), settings.ttlSeconds);
      keepHot(imageId, kind, generation, value, codec.bytes(value));
      return value;
    })();
    inFlight.set(ringKey, fill);
    try {
      return await fill;
    } finally {
      inFlight.delete(ringKey);
    }
  };

  /** After a change: a new generation in the ring, answered only once no lease on the old one can be used. */
  const replaceGeneration = async (imageId: string): Promise<void> => {
    forgetLease(imageId);
    await bumpGeneration(imageId);
    if (leaseMs > 0) await leasesRunOut(clock.monotonic());
  };

  const invalidating = <I extends { imageId: string }, O>(call: (input: I, options?: RpcCallOptions) => Promise<O>) =>
    async (input: I, options?: RpcCallOptions): Promise<O> => {
      let answer: O;
      try {
        answer = await call(input, options);
      } catch (error) {
        // Also after a failure (the change may have been applied before the answer was lost),
        // unless the service refused it before changing anything: someone else's bad request
        // (not the author, a bad field) must not empty the cache for everyone.
        if (!refusedUnchanged.has(errorCode(error) ?? '')) await replaceGeneration(input.imageId);
        throw error;
      }
      await replaceGeneration(input.imageId);
      return answer;
    };

  const variantAt = (imageId: string, variant: ImageVariant, { generation, fresh }: Generation, options?: RpcCallOptions) =>
    through(imageId, variant, generation, variantKey(imageId, generation, variant), variantCodec, async () => {
      // Asked without If-None-Match so that what comes back can be cached for everyone.
      const { contentType, etag, image } = await readThrough(imageId, fresh, () => images.GetVariant({ imageId, variant }, options));
      const answer: VariantAnswer = { contentType, etag, image };
      // The tag is kept apart too, so a conditional request never has to read the bytes.
      await cache.set(variantTagKey(imageId, generation, variant), tagCodec.encode(answer), settings.ttlSeconds);
      keepHot(imageId, `${variant}:tag`, generation, { contentType, etag }, 0);
      return answer;
    });

  const client: ImagesClient = {
    ...images,
    GetInfo: async (input, options) => {
      const { generation, fresh } = await generationOf(input.imageId);
      return through(input.imageId, 'info', generation, infoKey(input.imageId, generation), infoCodec, () => readThrough(input.imageId, fresh, () => images.GetInfo(input, options)));
    },
    Get: async (input, options) => {
      const { generation, fresh } = await generationOf(input.imageId);
      return through(input.imageId, 'get', generation, variantKey(input.imageId, generation, 'get'), withBytesCodec<Awaited<ReturnType<ImagesClient['Get']>>>(), () => readThrough(input.imageId, fresh, () => images.Get(input, options)));
    },
    GetVariant: async ({ ifNoneMatch, ...input }, options) => {
      const variant = await variantAt(input.imageId, input.variant, await generationOf(input.imageId), options);
      if (ifNoneMatch !== undefined && ifNoneMatch === variant.etag) return { ...variant, notModified: true, image: Buffer.alloc(0) };
      return variant;
    },
    Modify: invalidating(images.Modify),
    Delete: invalidating(images.Delete),
  };

  return {
    images: client,
    async originalAnswer(imageId, options) {
      const { generation, fresh } = await generationOf(imageId);
      return through(imageId, 'answer', generation, answerKey(imageId, generation), answerCodec, async () => originalContractAnswer(await readThrough(imageId, fresh, () => images.Get({ imageId }, options))));
    },
    async variantTag(imageId, variant) {
      const { generation } = await generationOf(imageId);
      const kind = `${variant}:tag` as const;
      const hit = fromHotTier<VariantTag>(imageId, kind, generation) ?? fromHotTier<VariantAnswer>(imageId, variant, generation);
      if (hit) return { contentType: hit.contentType, etag: hit.etag };
      const tag = decodedOrMiss(await cache.get(variantTagKey(imageId, generation, variant)), tagCodec.decode);
      if (!tag) return undefined;
      keepHot(imageId, kind, generation, tag, 0);
      return tag;
    },
    async variant(imageId, variant, options) {
      return variantAt(imageId, variant, await generationOf(imageId), options);
    },
    hotTierStats: () => ({ entries: hot?.size ?? 0, bytes: hot?.calculatedSize ?? 0, ...counters }),
  };
}

/** The images client with reads through the cache; see createImageCache for the routes' faster paths. */
export function withImageCache(images: ImagesClient, cache: SharedState, settings: ImageCacheSettings): ImagesClient {
  return createImageCache(images, cache, settings).images;
}

/** The original contract's GET /{imgID} body, as bytes ready to send. */
export function originalContractAnswer(image: { image: Buffer; author: string; title: string; description: string }): Buffer {
  return Buffer.from(JSON.stringify({ imageBlob: image.image.toString('base64'), author: image.author, title: image.title, description: image.description, error: '' }));
}

const infoCodec: Codec<ImageInfo> = {
  encode: (info) => JSON.stringify(info),
  decode: (stored) => {
    const parsed: unknown = JSON.parse(stored.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('cache entry is not an object');
    return parsed as ImageInfo;
  },
  bytes: () => 1024,
};

const answerStart = Buffer.from('{"imageBlob":"');
const answerCodec: Codec<Buffer> = {
  encode: (answer) => answer,
  // Sent as stored, so at least its shape is checked: anything else is a miss (decodedOrMiss).
  decode: (stored) => {
    if (!stored.subarray(0, answerStart.length).equals(answerStart) || stored[stored.length - 1] !== 0x7d) throw new Error('cache entry is not an image answer');
    return ownBytes(stored);
  },
  bytes: (answer) => answer.byteLength,
};

const tagCodec: Codec<VariantTag> = {
  encode: ({ contentType, etag }) => JSON.stringify({ contentType, etag }),
  decode: (stored) => {
    const { contentType, etag } = JSON.parse(stored.toString('utf8')) as VariantTag;
    return { contentType, etag };
  },
  bytes: () => 0,
};

const variantCodec: Codec<VariantAnswer> = {
  encode: (answer) => encodeWithBytes(answer),
  decode: (stored) => {
    const { contentType, etag, image } = decodeWithBytes<VariantTag>(stored);
    return { contentType, etag, image: ownBytes(image) };
  },
  bytes: (answer) => answer.image.byteLength,
};

function withBytesCodec<T extends { image: Buffer }>(): Codec<T> {
  return {
    encode: (value) => encodeWithBytes(value),
    decode: (stored) => {
      const value = decodeWithBytes<Omit<T, 'image'>>(stored);
      return { ...value, image: ownBytes(value.image) } as unknown as T;
    },
    bytes: (value) => value.image.byteLength,
  };
}

/**
 * Bytes that own their memory. A small reply from Redis can be a view into a larger socket
 * buffer, which keeping it in memory would pin; such a view is copied once, at fill time.
 */
function ownBytes(bytes: Buffer): Buffer {
  return bytes.byteLength * 2 < bytes.buffer.byteLength ? Buffer.from(bytes) : bytes;
}

// Bytes with their metadata are stored as one value: a 4-byte header length, the JSON header,
// then the bytes, so a hit is one read of one key.
function encodeWithBytes<T extends { image: Buffer }>({ image, ...header }: T): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, image]);
}

function decodeWithBytes<H>(value: Buffer): H & { image: Buffer } {
  const headerLength = value.readUInt32BE(0);
  const header = JSON.parse(value.subarray(4, 4 + headerLength).toString('utf8')) as H;
  return { ...header, image: value.subarray(4 + headerLength) };
}

/**
 * The hot tier in this worker's registry: image_hot_tier_bytes, image_hot_tier_entries (summed
 * over workers by the cluster's /metrics), image_hot_tier_hits_total, image_hot_tier_misses_total.
 */
export function registerImageCacheMetrics(registry: Registry, cache: Pick<ImageCache, 'hotTierStats'>): void {
  const registers = [registry];
  new Gauge({ name: 'image_hot_tier_bytes', help: 'Bytes of image answers held in gateway worker memory', registers, collect() { this.set(cache.hotTierStats().bytes); } });
  new Gauge({ name: 'image_hot_tier_entries', help: 'Image answers held in gateway worker memory', registers, collect() { this.set(cache.hotTierStats().entries); } });
  let counted = { hits: 0, misses: 0 };
  const hits = new Counter({ name: 'image_hot_tier_hits_total', help: 'Image reads answered from worker memory', registers, collect: () => sync() });
  const misses = new Counter({ name: 'image_hot_tier_misses_total', help: 'Image reads the hot tier could not answer (then the ring, then the images service)', registers, collect: () => sync() });
  function sync(): void {
    const now = cache.hotTierStats();
    hits.inc(now.hits - counted.hits);
    misses.inc(now.misses - counted.misses);
    counted = { hits: now.hits, misses: now.misses };
  }
}

/**
 * A cache entry that does not decode (truncated, written by another version, tampered with) is
 * a miss: the caller reads the service and overwrites it. Never a 500.
 */
function decodedOrMiss<T>(hit: Buffer | null, decode: (value: Buffer) => T): T | undefined {
  if (!hit) return undefined;
  try {
    return decode(hit);
  } catch {
    return undefined;
  }
}
