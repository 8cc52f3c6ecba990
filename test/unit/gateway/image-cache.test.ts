import { describe, expect, it } from 'vitest';
import type { RpcClient } from '../../../src/platform/rpc/client.js';
import type { ImagesContract, ImageInfo } from '../../../src/contracts/images.js';
import { AppError } from '../../../src/platform/errors.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { manualClock, settle } from '../../fakes/manual-clock.js';
import { createImageCache, withImageCache } from '../../../src/gateway/image-cache.js';
import type { SharedState } from '../../../src/gateway/shared-state.js';

type ImagesClient = RpcClient<ImagesContract['methods']>;

// A pure in-memory stand-in for the images service, counting the calls that reach it.
function fakeImages() {
  const info: ImageInfo = {
    imageId: 'img1', author: 'ada', authorId: 'u1', title: 'first', description: '', tags: [], type: 'image/png',
    width: 1, height: 1, size: 3, sha256: 'abc', created: '2026-01-01T00:00:00.000Z',
  };
  const calls = { info: 0, variant: 0 };
  let pendingInfo: ((value: ImageInfo) => void) | undefined;
  let holdNextInfo = false;
  const client = {
    GetInfo: async () => {
      calls.info++;
      if (holdNextInfo) {
        holdNextInfo = false;
        const snapshot = { ...info };
        return new Promise<ImageInfo>((resolve) => (pendingInfo = () => resolve(snapshot)));
      }
      return { ...info };
    },
    GetVariant: async ({ variant }: { variant: string }) => {
      calls.variant++;
      return { contentType: 'image/png', etag: `"${info.sha256}-${variant}"`, image: Buffer.from([1, 2, 3]) };
    },
    Modify: async ({ title, callerId }: { title?: string; callerId: string }) => {
      if (callerId !== info.authorId) throw new AppError('FORBIDDEN', 'only the author may change this image');
      if (title) info.title = title;
      return { ...info };
    },
    Delete: async () => ({}),
  } as unknown as ImagesClient;
  return {
    client, calls, info,
    holdNextInfo: () => (holdNextInfo = true),
    releaseHeldInfo: () => pendingInfo?.(info),
  };
}

describe('withImageCache', () => {
  it('serves a second read from the cache', async () => {
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    await cached.GetInfo({ imageId: 'img1' });
    expect(await cached.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'first' });
    const bytes = await cached.GetVariant({ imageId: 'img1', variant: 'original' });
    const again = await cached.GetVariant({ imageId: 'img1', variant: 'original' });
    expect([...again.image]).toEqual([1, 2, 3]);
    expect(again).toMatchObject({ contentType: 'image/png', etag: bytes.etag });
    expect(images.calls).toEqual({ info: 1, variant: 1 });
  });

  it('never serves the old version after a modification', async () => {
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    await cached.GetInfo({ imageId: 'img1' });
    await cached.Modify({ imageId: 'img1', callerId: 'u1', title: 'second' });
    expect(await cached.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'second' });
  });

  it('does not let a read that started before a change cache the old version', async () => {
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    images.holdNextInfo();
    const slowRead = cached.GetInfo({ imageId: 'img1' });
    await settle();
    await cached.Modify({ imageId: 'img1', callerId: 'u1', title: 'second' });
    images.releaseHeldInfo();
    await slowRead;
    expect(await cached.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'second' });
  });

  it('never serves an old version when the generation was lost from the cache', async () => {
    const images = fakeImages();
    const state = inMemorySharedState();
    const cached = withImageCache(images.client, state, { ttlSeconds: 300 });
    await cached.GetInfo({ imageId: 'img1' });
    await cached.Modify({ imageId: 'img1', callerId: 'u1', title: 'second' });
    // A cache node that held the generation was flushed while its twin was unreachable.
    await state.delete('img:img1:gen');
    expect(await cached.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'second' });
  });

  it('passes errors through and keeps the cache consistent', async () => {
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    await expect(cached.Modify({ imageId: 'img1', callerId: 'intruder', title: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await cached.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'first' });
  });

  it('keeps the cached answers when the service refused a change before making it, and drops them when the outcome is unknown', async () => {
    const clock = manualClock();
    const images = fakeImages();
    let lostOnTheWay = false;
    const service = {
      ...images.client,
      Modify: async (input: Parameters<ImagesClient['Modify']>[0]) => {
        if (lostOnTheWay) throw new AppError('UNAVAILABLE', 'no answer');
        return images.client.Modify(input);
      },
    } as ImagesClient;
    const state = inMemorySharedState(() => clock.now());
    const cache = createImageCache(service, state, { ttlSeconds: 300, generationLeaseMs: 100, clock });
    await cache.images.GetInfo({ imageId: 'img1' });
    const generation = async () => (await state.get('img:img1:gen'))?.toString();
    const before = await generation();
    // Not the author: refused at once (no lease to wait out), the generation left as it was.
    await expect(cache.images.Modify({ imageId: 'img1', callerId: 'intruder', title: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await generation()).toBe(before);
    expect(images.calls.info).toBe(1);
    // Lost on the way: it may have been applied, so the generation is replaced all the same.
    lostOnTheWay = true;
    const lost = expect(cache.images.Modify({ imageId: 'img1', callerId: 'u1', title: 'y' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await settle();
    clock.advance(101);
    await lost;
    expect(await generation()).not.toBe(before);
  });

  it('writes nothing to the cache for an image that does not exist', async () => {
    const writes: string[] = [];
    const state = inMemorySharedState();
    const recording = { ...state, set: (key: string, value: Buffer | string, ttl: number) => (writes.push(key), state.set(key, value, ttl)) };
    const missing = { GetInfo: async () => { throw new AppError('NOT_FOUND', 'image not found'); }, GetVariant: async () => { throw new AppError('NOT_FOUND', 'image not found'); }, Get: async () => { throw new AppError('NOT_FOUND', 'image not found'); } } as unknown as ImagesClient;
    const cached = withImageCache(missing, recording, { ttlSeconds: 300 });
    for (let i = 0; i < 20; i++) {
      const imageId = `made-up-${i}`;
      await expect(cached.GetInfo({ imageId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(cached.GetVariant({ imageId, variant: 'thumb' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(cached.Get({ imageId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      for (const key of [`img:${imageId}:gen`]) expect(await state.get(key)).toBeNull();
    }
  });

  it('expires entries after the TTL', async () => {
    const clock = manualClock(0);
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(() => clock.now()), { ttlSeconds: 300, clock });
    await cached.GetInfo({ imageId: 'img1' });
    clock.advance(301_000);
    await cached.GetInfo({ imageId: 'img1' });
    expect(images.calls.info).toBe(2);
  });
});

describe('withImageCache for bytes', () => {
  it('serves the original with its metadata from the cache', async () => {
    const images = fakeImages();
    let gets = 0;
    (images.client as { Get: unknown }).Get = async () => {
      gets++;
      return { ...images.info, contentType: 'image/png', etag: '"e1"', image: Buffer.from([9, 8, 7]) };
    };
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    await cached.Get({ imageId: 'img1' });
    const again = await cached.Get({ imageId: 'img1' });
    expect(gets).toBe(1);
    expect([...again.image]).toEqual([9, 8, 7]);
    expect(again).toMatchObject({ author: 'ada', title: 'first', etag: '"e1"' });
  });

  it('answers a matching If-None-Match from the cache without bytes', async () => {
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    const first = await cached.GetVariant({ imageId: 'img1', variant: 'thumb' });
    const revalidated = await cached.GetVariant({ imageId: 'img1', variant: 'thumb', ifNoneMatch: first.etag });
    expect(revalidated.notModified).toBe(true);
    expect(revalidated.image.length).toBe(0);
    const other = await cached.GetVariant({ imageId: 'img1', variant: 'thumb', ifNoneMatch: '"stale"' });
    expect(other.notModified).toBeFalsy();
    expect(other.image.length).toBe(3);
    expect(images.calls.variant).toBe(1);
  });
});

/** Counts the ring reads per kind of key (the last part of the key). */
function countingState(state: SharedState = inMemorySharedState()) {
  const reads: string[] = [];
  return {
    reads,
    state: { ...state, get: (key: string) => (reads.push(key), state.get(key)) } satisfies SharedState,
    bodyReads: () => reads.filter((key) => !key.endsWith(':gen')).length,
  };
}

describe('the hot tier', () => {
  const withBytes = (images: ReturnType<typeof fakeImages>) => {
    let gets = 0;
    (images.client as { Get: unknown }).Get = async () => {
      gets++;
      return { ...images.info, contentType: 'image/png', etag: '"e1"', image: Buffer.from([9, 8, 7]) };
    };
    return () => gets;
  };

  it('builds the GET /{imgID} answer once and then reads only the generation from the ring', async () => {
    const images = fakeImages();
    const gets = withBytes(images);
    const ring = countingState();
    const cache = createImageCache(images.client, ring.state, { ttlSeconds: 300 });
    const first = await cache.originalAnswer('img1');
    expect(JSON.parse(first.toString())).toEqual({ imageBlob: Buffer.from([9, 8, 7]).toString('base64'), author: 'ada', title: 'first', description: '', error: '' });
    const readsAfterFill = ring.bodyReads();
    for (let i = 0; i < 5; i++) expect(await cache.originalAnswer('img1')).toBe(first);
    expect(ring.bodyReads()).toBe(readsAfterFill);
    expect(gets()).toBe(1);
    expect(cache.hotTierStats()).toMatchObject({ hits: 5, entries: 1 });
  });

  it('never answers from memory after a change made through another worker', async () => {
    const images = fakeImages();
    withBytes(images);
    const ring = inMemorySharedState();
    const workerA = createImageCache(images.client, ring, { ttlSeconds: 300 });
    const workerB = createImageCache(images.client, ring, { ttlSeconds: 300 });
    await workerA.images.GetInfo({ imageId: 'img1' });
    expect(JSON.parse((await workerA.originalAnswer('img1')).toString())).toMatchObject({ title: 'first' });
    await workerB.images.Modify({ imageId: 'img1', callerId: 'u1', title: 'second' });
    expect(await workerA.images.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'second' });
    expect(JSON.parse((await workerA.originalAnswer('img1')).toString())).toMatchObject({ title: 'second' });
  });

  it('fills a burst of misses on one answer with one call to the service', async () => {
    const images = fakeImages();
    const gets = withBytes(images);
    const cache = createImageCache(images.client, inMemorySharedState(), { ttlSeconds: 300 });
    await cache.images.GetInfo({ imageId: 'img1' }); // the image has a generation
    await Promise.all(Array.from({ length: 10 }, () => cache.originalAnswer('img1')));
    expect(gets()).toBe(1);
  });

  it('stays within its byte budget and keeps answers too large for it only in the ring', async () => {
    const images = fakeImages();
    (images.client as { GetVariant: unknown }).GetVariant = async ({ imageId }: { imageId: string }) =>
      ({ contentType: 'image/png', etag: `"${imageId}"`, image: Buffer.alloc(imageId === 'huge' ? 5_000 : 1_000, 1) });
    const ring = countingState();
    const cache = createImageCache(images.client, ring.state, { ttlSeconds: 300, hotTierBytes: 4_000, hotTierMaxEntryBytes: 2_000 });
    for (let i = 0; i < 20; i++) await cache.variant(`img${i}`, 'original');
    expect(cache.hotTierStats().bytes).toBeLessThanOrEqual(4_000);
    expect(cache.hotTierStats().entries).toBeLessThan(20);
    await cache.variant('huge', 'original');
    const before = ring.bodyReads();
    expect((await cache.variant('huge', 'original')).image.length).toBe(5_000);
    expect(ring.bodyReads()).toBe(before + 1);
  });

  it('tells a variant\'s entity tag without reading its bytes, in a worker that never read them', async () => {
    const images = fakeImages();
    const ring = countingState();
    const filler = createImageCache(images.client, ring.state, { ttlSeconds: 300 });
    const { etag } = await filler.variant('img1', 'thumb');
    const other = createImageCache(images.client, ring.state, { ttlSeconds: 300 });
    ring.reads.length = 0;
    expect(await other.variantTag('img1', 'thumb')).toEqual({ contentType: 'image/png', etag });
    expect(ring.reads.some((key) => key.endsWith(':thumb'))).toBe(false);
    expect(await other.variantTag('img1', 'medium')).toBeUndefined();
    expect(images.calls.variant).toBe(1);
  });
});

describe('the generation lease', () => {
  const lease = { ttlSeconds: 300, generationLeaseMs: 100 };

  it('reuses a generation read less than a lease ago, and asks the ring again once it has run out', async () => {
    const clock = manualClock();
    const images = fakeImages();
    const ring = countingState();
    const cache = createImageCache(images.client, ring.state, { ...lease, clock });
    const generationReads = () => ring.reads.filter((key) => key.endsWith(':gen')).length;
    await cache.variant('img1', 'original');
    const afterFirst = generationReads();
    for (let i = 0; i < 5; i++) {
      clock.advance(15);
      expect([...(await cache.variant('img1', 'original')).image]).toEqual([1, 2, 3]);
    }
    expect(generationReads()).toBe(afterFirst);
    clock.advance(30);
    await cache.variant('img1', 'original');
    expect(generationReads()).toBe(afterFirst + 1);
  });

  it('shares one ring read among a burst of reads', async () => {
    const clock = manualClock();
    const images = fakeImages();
    const ring = countingState();
    const cache = createImageCache(images.client, ring.state, { ...lease, clock });
    await cache.images.GetInfo({ imageId: 'img1' });
    clock.advance(200);
    ring.reads.length = 0;
    await Promise.all(Array.from({ length: 10 }, () => cache.images.GetInfo({ imageId: 'img1' })));
    expect(ring.reads.filter((key) => key.endsWith(':gen'))).toHaveLength(1);
  });

  it('makes a change wait out the lease before it answers, so no worker holding one answers the old version after it', async () => {
    const clock = manualClock();
    const images = fakeImages();
    const ring = inMemorySharedState(() => clock.now());
    const reader = createImageCache(images.client, ring, { ...lease, clock });
    const writer = createImageCache(images.client, ring, { ...lease, clock });
    expect(await reader.images.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'first' });
    let answered = false;
    const change = writer.images.Modify({ imageId: 'img1', callerId: 'u1', title: 'second' }).then(() => (answered = true));
    await settle();
    // The change is in the service and its generation in the ring, but the reader's lease still
    // runs: a read now overlaps the change and may see either version; the change must not answer.
    expect(answered).toBe(false);
    clock.advance(100);
    await settle();
    expect(answered).toBe(false);
    clock.advance(1);
    await change;
    expect(await reader.images.GetInfo({ imageId: 'img1' })).toMatchObject({ title: 'second' });
  });

  it('takes back the generation it started for an image that does not exist', async () => {
    const clock = manualClock();
    const state = inMemorySharedState(() => clock.now());
    const missing = { GetInfo: async () => { throw new AppError('NOT_FOUND', 'image not found'); } } as unknown as ImagesClient;
    const ring = countingState(state);
    const cache = createImageCache(missing, ring.state, { ...lease, clock });
    await expect(cache.images.GetInfo({ imageId: 'made-up' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await state.get('img:made-up:gen')).toBeNull();
    // The next read asks the ring again instead of reusing the generation taken back.
    await expect(cache.images.GetInfo({ imageId: 'made-up' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(ring.reads.filter((key) => key === 'img:made-up:gen')).toHaveLength(2);
  });

  it('asks the ring on every read when the lease is 0', async () => {
    const images = fakeImages();
    const ring = countingState();
    const cache = createImageCache(images.client, ring.state, { ttlSeconds: 300, generationLeaseMs: 0 });
    for (let i = 0; i < 3; i++) await cache.variant('img1', 'original');
    expect(ring.reads.filter((key) => key.endsWith(':gen'))).toHaveLength(3);
  });
});
