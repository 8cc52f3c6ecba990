import type { Migration } from '../platform/db/database.js';

// The users database. Never edit a shipped migration; add a new one.
export const usersMigrations: readonly Migration[] = [
  {
    id: '001_users',
    sql: `
      create table users (
        id uuid primary key,
        -- Names are case-sensitive and unique exactly as typed (the original compared them as given).
        name text not null unique,
        password_hash text not null,
        -- null: the service's default (UPLOAD_QUOTA).
        upload_limit integer check (upload_limit >= 0),
        created_at timestamptz not null default now()
      );

      -- Only the sha256 of a refresh token is stored. A login starts a family; every refresh
      -- marks the presented token used and adds its successor to the same family.
      create table refresh_tokens (
        token_digest bytea primary key,
        family_id uuid not null,
        user_id uuid not null references users (id) on delete cascade,
        expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      );
      create index refresh_tokens_family on refresh_tokens (family_id);
      create index refresh_tokens_user on refresh_tokens (user_id);

      -- One Ed25519 key pair shared by every replica: the first to start inserts it, the others
      -- keep the row that won (insert ... on conflict do nothing, then select).
      create table signing_keys (
        id smallint primary key check (id = 1),
        kid text not null,
        private_jwk jsonb not null,
        public_jwk jsonb not null,
        created_at timestamptz not null default now()
      );

      -- One row per upload holding a unit of its author's quota; keyed by upload id so that
      -- reserve and release are idempotent.
      create table upload_reservations (
        user_id uuid not null references users (id) on delete cascade,
        upload_id text not null,
        created_at timestamptz not null default now(),
        primary key (user_id, upload_id)
      );
    `,
  },
  {
    // Names become case-insensitive: "Alice" and "alice" were two accounts. Where such pairs
    // exist, the earliest keeps its name and later ones get their id's first 8 characters
    // appended (still unique, and their owners can still log in by the new name), then a unique
    // index on lower(name) keeps it so.
    id: '002_names_case_insensitive',
    sql: `
      update users set name = users.name || '-' || left(users.id::text, 8)
      from (
        select id, row_number() over (partition by lower(name) order by created_at, id) as rank from users
      ) as ranked
      where users.id = ranked.id and ranked.rank > 1;
      create unique index users_name_lower_key on users (lower(name));
    `,
  },
  {
    // Several signing keys (rotation), the private half sealed by the service (signing-keys.ts).
    // A plaintext key of 001 stays until the service seals it at its next start.
    id: '003_signing_key_rotation',
    sql: `
      alter table signing_keys drop column id;
      alter table signing_keys add primary key (kid);
      alter table signing_keys alter column private_jwk drop not null;
      alter table signing_keys add column private_key_sealed bytea;
      alter table signing_keys add column retire_at timestamptz;
      alter table signing_keys add constraint signing_keys_private_kept_once check (private_jwk is null or private_key_sealed is null);
      alter table signing_keys add constraint signing_keys_private_kept check (private_jwk is not null or private_key_sealed is not null);
    `,
  },
  {
    id: '004_upload_releases',
    sql: `
      -- Uploads whose unit was given back for good (a saga's compensation, a deleted image): a
      -- reserve of one of them that arrives late is refused, so a compensated step stays undone.
      create table upload_releases (
        user_id uuid not null,
        upload_id text not null,
        released_at timestamptz not null default now(),
        primary key (user_id, upload_id)
      );
    `,
  },
];
