import type { JWK } from 'jose';
import type { Sql, TransactionSql } from '../platform/db/database.js';

// The SQL of users.signing_keys (see signing-keys.ts for what is kept and why).

export interface StoredSigningKey {
  kid: string;
  /** The private JWK sealed with AES-256-GCM; null only on a row an older version wrote in plaintext. */
  sealed: Buffer | null;
  /** Plaintext private JWK of an older version, sealed (and cleared) at the next start. */
  privateJwk: JWK | null;
  publicJwk: JWK;
  createdAt: Date;
  /** When it stops being published; null while it is the newest. */
  retireAt: Date | null;
}

export interface SigningKeysRepository {
  /** Newest first. */
  list(): Promise<StoredSigningKey[]>;
  /** Runs `work` in a transaction holding a lock every replica takes for key bookkeeping. */
  underLock(work: (locked: SigningKeysRepository) => Promise<void>): Promise<void>;
  insert(key: { kid: string; sealed: Buffer; publicJwk: JWK; createdAt: Date }): Promise<void>;
  /** Stores the sealed private key and drops the plaintext one. */
  seal(kid: string, sealed: Buffer): Promise<void>;
  /** Every key but `kid` that has no retirement date gets `at`. */
  retireOthers(kid: string, at: Date): Promise<void>;
  deleteRetired(now: Date): Promise<void>;
}

type Queryable = Sql | TransactionSql;

export function createSigningKeysRepository(sql: Sql): SigningKeysRepository {
  return over(sql, async (work) => {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('easel-users:signing-keys'))`;
      await work(over(tx, undefined));
    });
  });
}

function over(db: Queryable, underLock: SigningKeysRepository['underLock'] | undefined): SigningKeysRepository {
  const self: SigningKeysRepository = {
    list: async () => db<StoredSigningKey[]>`
      select kid, private_key_sealed as sealed, private_jwk as "privateJwk", public_jwk as "publicJwk",
             created_at as "createdAt", retire_at as "retireAt"
      from signing_keys order by created_at desc, kid`,
    underLock: (work) => (underLock ? underLock(work) : work(self)),
    insert: async ({ kid, sealed, publicJwk, createdAt }) => {
      await db`
        insert into signing_keys (kid, private_key_sealed, public_jwk, created_at)
        values (${kid}, ${sealed}, ${db.json(publicJwk as never)}, ${createdAt})`;
    },
    seal: async (kid, sealed) => {
      await db`update signing_keys set private_key_sealed = ${sealed}, private_jwk = null where kid = ${kid}`;
    },
    retireOthers: async (kid, at) => {
      await db`update signing_keys set retire_at = ${at} where kid <> ${kid} and retire_at is null`;
    },
    deleteRetired: async (now) => {
      await db`delete from signing_keys where retire_at <= ${now}`;
    },
  };
  return self;
}
