import type { RpcCallOptions, RpcClient } from '../platform/rpc/client.js';
import type { ImagesContract, ImageInfo, ImageVariant } from '../contracts/images.js';
import type { SharedState } from './shared-state.js';

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
const variantKey = (imageId: string, generation: string, variant: ImageVariant) => `img:${imageId}:${generation}:${variant}`;

interface CachedVariant {
  contentType: string;
  etag: string;
}

export function withImageCache(images: ImagesClient, cache: SharedState, settings: ImageCacheSettings): ImagesClient {
  const generationTtl = settings.generationTtlSeconds ?? Math.max(settings.ttlSeconds * 12, 3600);

  const generationOf = async (imageId: string) => (await cache.get(generationKey(imageId)))?.toString() ?? '0';

  const bumpGeneration = async (imageId: string) => {
    // A fresh random generation rather than a counter: needs no atomic increment on two replicas.
    const next = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    await cache.set(generationKey(imageId), next, generationTtl);
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
      const generation = await generationOf(input.imageId);
      const key = infoKey(input.imageId, generation);
      const hit = await cache.get(key);
      if (hit) return JSON.parse(hit.toString('utf8')) as ImageInfo;
      const info = await images.GetInfo(input, options);
      await cache.set(key, JSON.stringify(info), settings.ttlSeconds);
      return info;
    },
    GetVariant: async (input, options) => {
      const generation = await generationOf(input.imageId);
      const key = variantKey(input.imageId, generation, input.variant);
      const hit = await cache.get(key);
      if (hit) return decodeVariant(hit);
      const variant = await images.GetVariant(input, options);
      await cache.set(key, encodeVariant(variant), settings.ttlSeconds);
      return variant;
    },
    Modify: invalidating(images.Modify),
    Delete: invalidating(images.Delete),
  };
}

// A variant is stored as one value: a 4-byte header length, the JSON header, then the bytes.
function encodeVariant(variant: CachedVariant & { image: Buffer }): Buffer {
  const header = Buffer.from(JSON.stringify({ contentType: variant.contentType, etag: variant.etag }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, variant.image]);
}

function decodeVariant(value: Buffer): CachedVariant & { image: Buffer } {
  const headerLength = value.readUInt32BE(0);
  const header = JSON.parse(value.subarray(4, 4 + headerLength).toString('utf8')) as CachedVariant;
  return { ...header, image: value.subarray(4 + headerLength) };
}
