import type { Sql, TransactionSql } from '../platform/db/database.js';
import type { ImageInfo, ImageVariant } from '../contracts/images.js';
import type { StoredVariant } from './variants.js';

// All SQL of the images service.

export interface NewImage {
  id: string;
  authorId: string;
  authorName: string;
  title: string;
  description: string;
  tags: string[];
  type: string;
  width: number;
  height: number;
  size: number;
  sha256: string;
  uploadId: string;
}

export interface ImageRecord extends ImageInfo {
  uploadId: string;
}

export interface VariantBytes {
  contentType: string;
  etag: string;
  /** Null when the caller's etag matched: the bytes were not read. */
  bytes: Buffer | null;
}

export interface ListPosition {
  created: string;
  id: string;
}

interface ImageRow {
  id: string;
  author_id: string;
  author_name: string;
  title: string;
  description: string;
  tags: string[];
  type: string;
  width: number;
  height: number;
  size: number;
  sha256: string;
  upload_id: string;
  created: Date;
}

const infoColumns = 'id, author_id, author_name, title, description, tags, type, width, height, size, sha256, upload_id, created';

function toRecord(row: ImageRow): ImageRecord {
  return {
    imageId: row.id,
    author: row.author_name,
    authorId: row.author_id,
    title: row.title,
    description: row.description,
    tags: row.tags,
    type: row.type,
    width: row.width,
    height: row.height,
    size: row.size,
    sha256: row.sha256,
    created: row.created.toISOString(),
    uploadId: row.upload_id,
  };
}

export type InsertOutcome = { stored: true; imageId: string; created: string } | { stored: false; imageId: string };

export interface ImagesRepository {
  findByIdempotencyKey(authorId: string, key: string): Promise<string | undefined>;
  /** Stores the image, its variants and the idempotency key in one transaction. When the key was taken meanwhile, stores nothing. */
  insert(image: NewImage, variants: readonly StoredVariant[], idempotencyKey: string | undefined): Promise<InsertOutcome>;
  /** Removes an image and everything stored with it; true when there was one. */
  remove(imageId: string): Promise<boolean>;
  find(imageId: string): Promise<ImageRecord | undefined>;
  /** The metadata with the original's bytes, in one query. */
  findWithOriginal(imageId: string): Promise<(ImageRecord & { contentType: string; etag: string; bytes: Buffer }) | undefined>;
  findMany(imageIds: readonly string[]): Promise<ImageRecord[]>;
  variant(imageId: string, variant: ImageVariant, ifNoneMatch?: string): Promise<VariantBytes | undefined>;
  updateText(imageId: string, changes: { title?: string; description?: string; tags?: string[] }): Promise<ImageRecord | undefined>;
  countByAuthor(authorName: string): Promise<number>;
  /** Newest first, after `position` when given. */
  list(filter: { authorName?: string; tag?: string; after?: ListPosition; limit: number }): Promise<ImageRecord[]>;
}

/**
 * The image's rows in the caller's transaction; returns its creation time. An invisible image
 * (an upload transaction not finished yet) is stored but answered by no read.
 */
export async function insertImageRows(tx: TransactionSql, image: NewImage, variants: readonly StoredVariant[], visible: boolean): Promise<string> {
  const [row] = await tx<{ created: Date }[]>`
    insert into images (id, author_id, author_name, title, description, tags, type, width, height, size, sha256, upload_id, visible)
    values (${image.id}, ${image.authorId}, ${image.authorName}, ${image.title}, ${image.description}, ${tx.array(image.tags)}::text[],
            ${image.type}, ${image.width}, ${image.height}, ${image.size}, ${image.sha256}, ${image.uploadId}, ${visible})
    returning created`;
  for (const variant of variants) {
    await tx`
      insert into image_variants (image_id, variant, content_type, etag, bytes)
      values (${image.id}, ${variant.variant}, ${variant.contentType}, ${variant.etag}, ${variant.bytes})`;
  }
  return row!.created.toISOString();
}

export function imagesRepository(sql: Sql): ImagesRepository {
  return {
    async findByIdempotencyKey(authorId, key) {
      const rows = await sql<{ image_id: string }[]>`select image_id from upload_idempotency where author_id = ${authorId} and key = ${key}`;
      return rows[0]?.image_id;
    },

    async insert(image, variants, idempotencyKey) {
      return sql.begin(async (tx) => {
        if (idempotencyKey !== undefined) {
          const claimed = await tx<{ image_id: string }[]>`
            insert into upload_idempotency (author_id, key, image_id) values (${image.authorId}, ${idempotencyKey}, ${image.id})
            on conflict (author_id, key) do nothing returning image_id`;
          if (claimed.length === 0) {
            const [first] = await tx<{ image_id: string }[]>`select image_id from upload_idempotency where author_id = ${image.authorId} and key = ${idempotencyKey}`;
            return { stored: false as const, imageId: first!.image_id };
          }
        }
        const created = await insertImageRows(tx, image, variants, true);
        return { stored: true as const, imageId: image.id, created };
      });
    },

    async remove(imageId) {
      return sql.begin(async (tx) => {
        // The idempotency key goes too: a retried upload after a delete is a new upload.
        await tx`delete from upload_idempotency where image_id = ${imageId}`;
        const deleted = await tx`delete from images where id = ${imageId} returning id`;
        return deleted.length > 0;
      });
    },

    async find(imageId) {
      const rows = await sql<ImageRow[]>`select ${sql.unsafe(infoColumns)} from images where id = ${imageId} and visible`;
      return rows[0] ? toRecord(rows[0]) : undefined;
    },

    async findWithOriginal(imageId) {
      const rows = await sql<(ImageRow & { content_type: string; etag: string; bytes: Buffer })[]>`
        select ${sql.unsafe(infoColumns.split(', ').map((column) => `i.${column}`).join(', '))}, v.content_type, v.etag, v.bytes
        from images i join image_variants v on v.image_id = i.id and v.variant = 'original'
        where i.id = ${imageId} and i.visible`;
      const row = rows[0];
      return row ? { ...toRecord(row), contentType: row.content_type, etag: row.etag, bytes: row.bytes } : undefined;
    },

    async findMany(imageIds) {
      if (imageIds.length === 0) return [];
      const rows = await sql<ImageRow[]>`select ${sql.unsafe(infoColumns)} from images where id = any(${sql.array([...imageIds])}::text[]) and visible`;
      const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
      return imageIds.flatMap((id) => byId.get(id) ?? []);
    },

    async variant(imageId, variant, ifNoneMatch) {
      const rows = await sql<{ content_type: string; etag: string; bytes: Buffer | null }[]>`
        select content_type, etag, case when etag = ${ifNoneMatch ?? null} then null else bytes end as bytes
        from image_variants v where image_id = ${imageId} and variant = ${variant}
          and exists (select 1 from images i where i.id = v.image_id and i.visible)`;
      const row = rows[0];
      return row ? { contentType: row.content_type, etag: row.etag, bytes: row.bytes } : undefined;
    },

    async updateText(imageId, changes) {
      const rows = await sql<ImageRow[]>`
        update images set
          title = coalesce(${changes.title ?? null}, title),
          description = coalesce(${changes.description ?? null}, description),
          tags = coalesce(${changes.tags ? sql.array(changes.tags) : null}::text[], tags)
        where id = ${imageId} and visible
        returning ${sql.unsafe(infoColumns)}`;
      return rows[0] ? toRecord(rows[0]) : undefined;
    },

    async countByAuthor(authorName) {
      // Bounded by the author's upload quota; answered from images_author_created_idx.
      const [row] = await sql<{ count: number }[]>`select count(*)::int as count from images where author_name = ${authorName} and visible`;
      return row?.count ?? 0;
    },

    async list({ authorName, tag, after, limit }) {
      const rows = await sql<ImageRow[]>`
        select ${sql.unsafe(infoColumns)} from images
        where visible
          ${authorName !== undefined ? sql`and author_name = ${authorName}` : sql``}
          ${tag !== undefined ? sql`and tags @> ${sql.array([tag])}::text[]` : sql``}
          ${after ? sql`and (created, id) < (${after.created}::timestamptz, ${after.id})` : sql``}
        order by created desc, id desc
        limit ${limit}`;
      return rows.map(toRecord);
    },
  };
}
