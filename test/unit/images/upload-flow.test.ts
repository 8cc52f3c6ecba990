import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runUpload, type UploadFlowDeps } from '../../../src/images/upload-flow.js';
import type { ImageRecord, ImagesRepository, NewImage } from '../../../src/images/images.repository.js';
import { AppError } from '../../../src/platform/errors.js';
import { makeImage } from '../../fixtures/images.js';

// The upload flow's order and its undo, with in-memory stand-ins for the repository and the two
// services (the real ones are exercised in test/integration/images.test.ts).

const log = pino({ level: 'silent' });
const limits = { maxBytes: 1024 * 1024, maxPixels: 1_000_000 };

function world(options: { quotaLimit?: number; failInsert?: boolean; failIndex?: boolean } = {}) {
  const stored = new Map<string, NewImage>();
  const keys = new Map<string, string>();
  const reservations = new Set<string>();
  const indexed: string[] = [];
  const calls: string[] = [];
  const repository: Partial<ImagesRepository> = {
    findByIdempotencyKey: async (authorId, key) => keys.get(`${authorId}/${key}`),
    insert: async (image, _variants, key) => {
      calls.push('insert');
      if (options.failInsert) throw new Error('disk full');
      if (key !== undefined && keys.has(`${image.authorId}/${key}`)) return { stored: false, imageId: keys.get(`${image.authorId}/${key}`)! };
      stored.set(image.id, image);
      if (key !== undefined) keys.set(`${image.authorId}/${key}`, image.id);
      return { stored: true, imageId: image.id, created: new Date(0).toISOString() };
    },
    remove: async (imageId) => {
      calls.push('remove');
      for (const [key, id] of keys) if (id === imageId) keys.delete(key);
      return stored.delete(imageId);
    },
    find: async (imageId) => (stored.has(imageId) ? ({ imageId } as ImageRecord) : undefined),
  };
  const deps: UploadFlowDeps = {
    repository: repository as ImagesRepository,
    limits,
    users: {
      ReserveUpload: async ({ uploadId }) => {
        calls.push('reserve');
        const limit = options.quotaLimit ?? 10;
        if (!reservations.has(uploadId) && reservations.size >= limit) {
          throw new AppError('QUOTA_EXCEEDED', 'upload quota exceeded', { details: { used: reservations.size, limit } });
        }
        reservations.add(uploadId);
        return { used: reservations.size, limit };
      },
      ReleaseUpload: async ({ uploadId }) => {
        calls.push('release');
        reservations.delete(uploadId);
        return { used: reservations.size, limit: 10 };
      },
    },
    recommendations: {
      IndexImage: async ({ imageId }) => {
        calls.push('index');
        if (options.failIndex) throw new AppError('UNAVAILABLE', 'RECOMMENDATION SERVICE unreachable');
        indexed.push(imageId);
        return {};
      },
    },
  };
  return { deps, stored, reservations, indexed, calls };
}

const request = async () => ({ authorId: 'u1', authorName: 'mario', title: 'Sea', tags: ['Blue'], image: await makeImage('png', 64, 48) });

describe('upload flow', () => {
  it('reserves, stores and indexes, in that order', async () => {
    const w = world();
    const { imageId } = await runUpload(w.deps, await request(), { log });
    expect(w.calls).toEqual(['reserve', 'insert', 'index']);
    expect(w.stored.get(imageId)).toMatchObject({ authorName: 'mario', tags: ['blue'], type: 'image/png', width: 64, height: 48 });
    expect(w.indexed).toEqual([imageId]);
    expect(w.reservations.size).toBe(1);
  });

  it('checks the image and its words before touching the quota', async () => {
    const w = world();
    await expect(runUpload(w.deps, { ...(await request()), image: Buffer.from('not an image') }, { log })).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    await expect(runUpload(w.deps, { ...(await request()), tags: ['no spaces allowed'] }, { log })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(w.calls).toEqual([]);
  });

  it('an exhausted quota is a clear QUOTA_EXCEEDED that names the limit, and nothing is stored', async () => {
    const w = world({ quotaLimit: 0 });
    await expect(runUpload(w.deps, await request(), { log })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', message: 'upload quota exhausted (0 images)' });
    expect(w.calls).toEqual(['reserve']);
  });

  it('when indexing fails, the stored image is removed and the quota unit given back', async () => {
    const w = world({ failIndex: true });
    await expect(runUpload(w.deps, await request(), { log })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(w.calls).toEqual(['reserve', 'insert', 'index', 'remove', 'release']);
    expect(w.stored.size).toBe(0);
    expect(w.reservations.size).toBe(0);
  });

  it('when storing fails, the quota unit is given back', async () => {
    const w = world({ failInsert: true });
    await expect(runUpload(w.deps, await request(), { log })).rejects.toThrow('disk full');
    expect(w.calls).toEqual(['reserve', 'insert', 'release']);
    expect(w.reservations.size).toBe(0);
  });

  it('a repeated idempotency key answers with the first image and stores nothing twice', async () => {
    const w = world();
    const first = await runUpload(w.deps, await request(), { log, idempotencyKey: 'k1' });
    const again = await runUpload(w.deps, await request(), { log, idempotencyKey: 'k1' });
    expect(again.imageId).toBe(first.imageId);
    expect(w.stored.size).toBe(1);
    expect(w.reservations.size).toBe(1);
    const other = await runUpload(w.deps, await request(), { log, idempotencyKey: 'k2' });
    expect(other.imageId).not.toBe(first.imageId);
  });

  it('image ids are unguessable: 16 random bytes in base64url', async () => {
    const w = world();
    const ids = await Promise.all([1, 2, 3].map(async () => (await runUpload(w.deps, await request(), { log })).imageId));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(3);
  });
});
