import { describe, expect, it } from 'vitest';
import type { RpcClient } from '../../../src/platform/rpc/client.js';
import type { ImagesContract, ImageInfo } from '../../../src/contracts/images.js';
import { AppError } from '../../../src/platform/errors.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { withImageCache } from '../../../src/gateway/image-cache.js';

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
    await new Promise((r) => setImmediate(r));
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
    let now = 0;
    const images = fakeImages();
    const cached = withImageCache(images.client, inMemorySharedState(() => now), { ttlSeconds: 300 });
    await cached.GetInfo({ imageId: 'img1' });
    now += 301_000;
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
