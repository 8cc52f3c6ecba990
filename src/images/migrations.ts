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
  {
    id: '002_upload_transactions',
    sql: `
      -- An image stored by an upload transaction that has not finished is answered by no read.
      alter table images add column visible boolean not null default true;

      -- The durable log of every upload and delete transaction (docs/transactions.md), saga or
      -- two-phase commit: written before each step, so that after a crash any images instance
      -- can drive it to its end. finished is set once it reached a final state.
      create table upload_transactions (
        id uuid primary key,
        protocol text not null check (protocol in ('saga', '2pc')),
        kind text not null check (kind in ('upload', 'delete')),
        state text not null,
        author_id text not null,
        -- cleared when an upload fails or its image is deleted: a retry with the key is a new upload
        idempotency_key text,
        image_id text not null,
        upload_id text not null,
        started timestamptz not null,
        -- the last state change or claim; a transaction not finished long after it is recovered
        updated timestamptz not null,
        finished timestamptz,
        attempts integer not null default 0,
        outcome text
      );
      create unique index upload_transactions_key_idx on upload_transactions (author_id, idempotency_key) where idempotency_key is not null;
      create index upload_transactions_open_idx on upload_transactions (updated) where finished is null;
      create index upload_transactions_image_idx on upload_transactions (image_id);
      -- one delete at a time per image
      create unique index upload_transactions_one_delete_idx on upload_transactions (image_id) where kind = 'delete' and finished is null;
    `,
  },
];
