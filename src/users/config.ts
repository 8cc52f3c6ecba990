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
   * scrypt's N = 2^cost (r=8, p=1): 15 costs about 75-95 ms of CPU and 32 MiB per hash on the
   * reference machine (npm run bench:login; docs/security.md has the numbers). Raised from 14;
   * older hashes are re-hashed at the owner's next login.
   */
  SCRYPT_LOG2_COST: z.coerce.number().int().min(10).max(20).default(15),
  /** Live sessions per user; a login past it ends the oldest. */
  MAX_SESSIONS_PER_USER: env.positiveInt(20),
  /** Password hashes computed at once (each holds 32 MiB at cost 15); more wait their turn. */
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
