import type { Migration } from '../platform/db/database.js';

// The images database. Never change a shipped migration; add a new one.
export const imagesMigrations: readonly Migration[] = [
  {
    id: '001_images',
    sql: `
      create table images (
        id text primary key,
        author_id text not null,
        author_name text not null,
        title text not null default '',
        description text not null default '',
        tags text[] not null default '{}',
        type text not null,
        width integer not null,
        height integer not null,
        size integer not null,
        sha256 text not null,
        -- the upload's quota reservation, given back when the image is deleted
        upload_id text not null,
        -- millisecond precision so the listing cursor round-trips through JavaScript dates exactly
        created timestamptz not null default date_trunc('milliseconds', clock_timestamp())
      );
      create index images_created_idx on images (created desc, id desc);
      create index images_author_created_idx on images (author_name, created desc, id desc);
      create index images_tags_idx on images using gin (tags);

      create table image_variants (
        image_id text not null references images (id) on delete cascade,
        variant text not null check (variant in ('original', 'medium', 'thumb')),
        content_type text not null,
        etag text not null,
        bytes bytea not null,
        primary key (image_id, variant)
      );
      -- image formats are already compressed: don't spend CPU compressing them again
      alter table image_variants alter column bytes set storage external;

      -- a repeated Upload with the same idempotency key answers with the first image id
      create table upload_idempotency (
        author_id text not null,
        key text not null,
        image_id text not null,
        created timestamptz not null default now(),
        primary key (author_id, key)
      );
    `,
  },
];
