import type { RpcCallOptions, RpcClient } from '../platform/rpc/client.js';
import type { ImagesContract, ImageInfo, ImageVariant } from '../contracts/images.js';
import type { SharedState } from './shared-state.js';
import { errorCode } from '../platform/errors.js';

// Image reads served from the cache ring. It wraps the images RPC client, so the routes stay
// as they are: GetInfo and GetVariant consult the ring first and fill it on a miss; Modify and
// Delete invalidate.
//
// Why a generation number per image instead of plain deletes: a read that missed may still be
// fetching the old version while a PATCH lands; if it wrote its result after the PATCH's
// delete, the old version would be served until the TTL ran out. Entries are keyed by the
// image's generation, which every change bumps before it answers, so a late write lands under a
// generation nobody reads again.

type ImagesClient = RpcClient<ImagesContract['methods']>;

export interface ImageCacheSettings {
  /** Seconds an image response stays cached. */
  ttlSeconds: number;
  /** Generations must outlive every entry written under them. */
  generationTtlSeconds?: number;
}

const generationKey = (imageId: string) => `img:${imageId}:gen`;
const infoKey = (imageId: string, generation: string) => `img:${imageId}:${generation}:info`;
const variantKey = (imageId: string, generation: string, variant: ImageVariant | 'get') => `img:${imageId}:${generation}:${variant}`;

export function withImageCache(images: ImagesClient, cache: SharedState, settings: ImageCacheSettings): ImagesClient {
  const generationTtl = settings.generationTtlSeconds ?? Math.max(settings.ttlSeconds * 12, 3600);

  const bumpGeneration = async (imageId: string): Promise<string> => {
    // A fresh random generation rather than a counter: needs no atomic increment on two replicas.
    const next = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    await cache.set(generationKey(imageId), next, generationTtl);
    return next;
  };

  const generationOf = async (imageId: string): Promise<{ generation: string; fresh: boolean }> => {
    const stored = await cache.get(generationKey(imageId));
    if (stored) return { generation: stored.toString(), fresh: false };
    // No generation known: never cached, expired, or lost (a node flushed on its return while the
    // other replica is unreachable). Start a fresh one before reading the service, so that entries
    // written under a lost generation can never be read again.
    return { generation: await bumpGeneration(imageId), fresh: true };
  };

  /**
   * Reads the service; when the image does not exist, the generation this read started is taken
   * back, so a stream of requests for made-up ids leaves nothing in the cache.
   */
  const readThrough = async <O>(imageId: string, fresh: boolean, read: () => Promise<O>): Promise<O> => {
    try {
      return await read();
    } catch (error) {
      if (fresh && errorCode(error) === 'NOT_FOUND') await cache.delete(generationKey(imageId));
      throw error;
    }
  };

  const invalidating = <I extends { imageId: string }, O>(call: (input: I, options?: RpcCallOptions) => Promise<O>) =>
    async (input: I, options?: RpcCallOptions): Promise<O> => {
      try {
        return await call(input, options);
      } finally {
        // Also after a failure: the change may have been applied before the answer was lost.
        await bumpGeneration(input.imageId);
      }
    };

  return {
    ...images,
    GetInfo: async (input, options) => {
      const { generation, fresh } = await generationOf(input.imageId);
      const key = infoKey(input.imageId, generation);
      const hit = await cache.get(key);
      if (hit) return JSON.parse(hit.toString('utf8')) as ImageInfo;
      const info = await readThrough(input.imageId, fresh, () => images.GetInfo(input, options));
      await cache.set(key, JSON.stringify(info), settings.ttlSeconds);
      return info;
    },
    Get: async (input, options) => {
      const { generation, fresh } = await generationOf(input.imageId);
      const key = variantKey(input.imageId, generation, 'get');
      const hit = await cache.get(key);
      if (hit) return decodeWithBytes<Omit<Awaited<ReturnType<ImagesClient['Get']>>, 'image'>>(hit);
      const image = await readThrough(input.imageId, fresh, () => images.Get(input, options));
      await cache.set(key, encodeWithBytes(image), settings.ttlSeconds);
      return image;
    },
    GetVariant: async ({ ifNoneMatch, ...input }, options) => {
      const { generation, fresh } = await generationOf(input.imageId);
      const key = variantKey(input.imageId, generation, input.variant);
      const hit = await cache.get(key);
      let variant: VariantWithBytes;
      if (hit) {
        variant = decodeWithBytes<Omit<VariantWithBytes, 'image'>>(hit);
      } else {
        // Asked without If-None-Match so that what comes back can be cached for everyone.
        variant = await readThrough(input.imageId, fresh, () => images.GetVariant(input, options));
        await cache.set(key, encodeWithBytes(variant), settings.ttlSeconds);
      }
      if (ifNoneMatch !== undefined && ifNoneMatch === variant.etag) return { ...variant, notModified: true, image: Buffer.alloc(0) };
      return variant;
    },
    Modify: invalidating(images.Modify),
    Delete: invalidating(images.Delete),
  };
}

type VariantWithBytes = Awaited<ReturnType<ImagesClient['GetVariant']>>;

// Bytes with their metadata are stored as one value: a 4-byte header length, the JSON header,
// then the bytes, so a hit is one read of one key.
function encodeWithBytes({ image, ...header }: { image: Buffer } & Record<string, unknown>): Buffer {
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
