import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { integrationPostgres } from '../../harness/context.js';
import { createDatabase, runMigrations, type Sql } from '../../../src/platform/db/database.js';
import { imagesMigrations } from '../../../src/images/migrations.js';
import { imagesRepository, type ImagesRepository, type NewImage } from '../../../src/images/images.repository.js';
import { encodeCursor } from '../../../src/images/list-cursor.js';
import type { StoredVariant } from '../../../src/images/variants.js';

// The images repository on a real PostgreSQL: migrations, idempotency under concurrency, and the
// listing's keyset order when timestamps tie.

let sql: Sql;
let repository: ImagesRepository;

beforeAll(async () => {
  const url = await integrationPostgres().createDatabase('images_repo');
  sql = createDatabase({ url, logger: pino({ level: 'silent' }) });
  await runMigrations(sql, 'images', imagesMigrations);
  repository = imagesRepository(sql);
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
});

let counter = 0;
function newImage(overrides: Partial<NewImage> = {}): NewImage {
  counter++;
  return {
    id: `img${String(counter).padStart(19, '0')}`, authorId: 'u1', authorName: 'mario', title: `t${counter}`, description: '', tags: ['sea'],
    type: 'image/png', width: 1, height: 1, size: 3, sha256: 'x', uploadId: `up${counter}`, ...overrides,
  };
}

const variants: StoredVariant[] = [
  { variant: 'original', contentType: 'image/png', etag: '"a"', bytes: Buffer.from([1, 2, 3]) },
  { variant: 'thumb', contentType: 'image/webp', etag: '"b"', bytes: Buffer.from([4]) },
];

describe('images repository', () => {
  it('applies its migrations once', async () => {
    expect(await runMigrations(sql, 'images', imagesMigrations)).toEqual([]);
  });

  it('stores an image once for concurrent inserts with the same idempotency key', async () => {
    const attempts = [newImage({ authorId: 'u-key' }), newImage({ authorId: 'u-key' }), newImage({ authorId: 'u-key' })];
    const outcomes = await Promise.all(attempts.map((image) => repository.insert(image, variants, 'same-key')));
    expect(outcomes.filter((outcome) => outcome.stored)).toHaveLength(1);
    expect(new Set(outcomes.map((outcome) => outcome.imageId)).size).toBe(1);
    const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from images where author_id = 'u-key'`;
    expect(count).toBe(1);
    expect(await repository.findByIdempotencyKey('u-key', 'same-key')).toBe(outcomes[0]!.imageId);
  });

  it('returns bytes unless the etag matches, and removes everything of an image', async () => {
    const image = newImage();
    await repository.insert(image, variants, 'k-remove');
    expect((await repository.variant(image.id, 'original'))?.bytes).toEqual(Buffer.from([1, 2, 3]));
    expect(await repository.variant(image.id, 'original', '"a"')).toEqual({ contentType: 'image/png', etag: '"a"', bytes: null });
    expect(await repository.remove(image.id)).toBe(true);
    expect(await repository.variant(image.id, 'thumb')).toBeUndefined();
    expect(await repository.findByIdempotencyKey(image.authorId, 'k-remove')).toBeUndefined();
    expect(await repository.remove(image.id)).toBe(false);
  });

  it('lists newest first and pages past rows that share a timestamp', async () => {
    const images = [1, 2, 3, 4].map(() => newImage({ authorName: 'ties' }));
    for (const image of images) await repository.insert(image, variants, undefined);
    await sql`update images set created = '2026-01-01T00:00:00.000Z' where author_name = 'ties'`;
    const seen: string[] = [];
    let after: { created: string; id: string } | undefined;
    for (let page = 0; page < 4; page++) {
      const rows = await repository.list({ authorName: 'ties', after, limit: 1 });
      if (rows.length === 0) break;
      seen.push(rows[0]!.imageId);
      after = { created: rows[0]!.created, id: rows[0]!.imageId };
      expect(encodeCursor(after)).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(seen).toEqual(images.map((image) => image.id).reverse());
  });
});
