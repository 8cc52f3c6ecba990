import type { Migration } from '../platform/db/database.js';

// The recommendations database. Never edit a shipped migration; add a new one.
//
// image_tags carries a copy of the image's author and creation time so that "the newest images
// with tag T, not by me" is one index range scan per tag (see interestCandidates).

export const recommendationsMigrations: readonly Migration[] = [
  {
    id: '001_recommendations',
    sql: `
      create table images (
        image_id   text primary key,
        author_id  text not null,
        created_at timestamptz not null,
        likes      integer not null default 0 check (likes >= 0),
        views      bigint not null default 0
      );
      create index images_newest_idx on images (created_at desc, image_id desc);
      create index images_popular_idx on images (likes desc, created_at desc);

      create table image_tags (
        image_id   text not null references images (image_id) on delete cascade,
        tag        text not null,
        author_id  text not null,
        created_at timestamptz not null,
        primary key (image_id, tag)
      );
      create index image_tags_tag_newest_idx on image_tags (tag, created_at desc) include (image_id, author_id);

      -- Kept in step with image_tags in the same transactions: GET /tags must not aggregate every row.
      create table tag_counts (
        tag   text primary key,
        count integer not null check (count >= 0)
      );
      create index tag_counts_prefix_idx on tag_counts (tag text_pattern_ops);
      create index tag_counts_count_idx on tag_counts (count desc, tag);

      create table likes (
        image_id   text not null references images (image_id) on delete cascade,
        user_id    text not null,
        created_at timestamptz not null default now(),
        primary key (image_id, user_id)
      );
      create index likes_user_idx on likes (user_id, image_id);

      create table views (
        user_id        text not null,
        image_id       text not null references images (image_id) on delete cascade,
        count          integer not null default 1,
        last_viewed_at timestamptz not null,
        primary key (user_id, image_id)
      );
      create index views_image_idx on views (image_id);

      -- weight is the value at updated_at; readers and writers apply the decay since then.
      create table user_interests (
        user_id    text not null,
        tag        text not null,
        weight     double precision not null check (weight >= 0),
        updated_at timestamptz not null,
        primary key (user_id, tag)
      );
    `,
  },
  {
    id: '002_unindexed_images',
    sql: `
      -- Image ids unindexed once (deleted, or a failed upload's compensation): ids are never
      -- reused, so an IndexImage arriving after the UnindexImage of its id is refused.
      create table unindexed_images (
        image_id text primary key,
        unindexed_at timestamptz not null default now()
      );
    `,
  },
];
