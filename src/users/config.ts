import { z } from 'zod';
import { env, loadConfig, serviceEnvShape, transactionEnvShape, type Env } from '../platform/config.js';

export const usersConfigSchema = z.object({
  ...serviceEnvShape,
  ...transactionEnvShape,
  /** The service's own role (easel_users) on both data nodes; its password comes apart, in DATABASE_PASSWORD. */
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://easel_users@127.0.0.1:5441,127.0.0.1:5442/users?target_session_attrs=primary'),
  DATABASE_PASSWORD: env.secret(),
  /** Images a user may have at once unless their account says otherwise. */
  UPLOAD_QUOTA: env.positiveInt(100),
  /**
   * scrypt's N = 2^cost, with r=8 and p=SCRYPT_PARALLELISM. 13 with p=4 costs as much CPU as 14
   * with p=2 or 15 with p=1 (60-90 ms per hash on the reference machine, npm run bench:login)
   * and holds 8 MiB per hash in flight, which keeps the users process within its 120 MB budget
   * (docs/security.md). Hashes carry their parameters: older ones are re-hashed at the owner's
   * next login.
   */
  SCRYPT_LOG2_COST: z.coerce.number().int().min(10).max(20).default(13),
  /** scrypt's p: CPU per hash grows with it, memory does not. */
  SCRYPT_PARALLELISM: z.coerce.number().int().min(1).max(16).default(4),
  /** Live sessions per user; a login past it ends the oldest. */
  MAX_SESSIONS_PER_USER: env.positiveInt(20),
  /** Password hashes computed at once (each holds 128 * 2^cost * 8 bytes: 8 MiB at cost 13); more wait their turn. */
  HASH_CONCURRENCY: env.positiveInt(1),
  ACCESS_TOKEN_TTL_SECONDS: env.positiveInt(15 * 60),
  /**
   * Seals the JWT signing keys at rest (AES-256-GCM, key derived with HKDF). Required: only the
   * users service holds it. The launcher generates it (<dataDir>/secrets/signing-key-secret).
   */
  SIGNING_KEY_SECRET: z.string().min(32, 'must be at least 32 characters (the launcher generates one)'),
  /** A signing key older than this is replaced; the old one stays valid until its tokens expire. */
  SIGNING_KEY_ROTATION_DAYS: z.coerce.number().positive().default(30),
  REFRESH_TOKEN_TTL_SECONDS: env.positiveInt(30 * 24 * 3600),
});

export type UsersConfig = Readonly<z.infer<typeof usersConfigSchema>>;

export function loadUsersConfig(environment: Env = process.env): UsersConfig {
  return loadConfig(usersConfigSchema, environment);
}
