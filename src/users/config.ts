import { z } from 'zod';
import { env, loadConfig, serviceEnvShape, transactionEnvShape, type Env } from '../platform/config.js';

export const usersConfigSchema = z.object({
  ...serviceEnvShape,
  ...transactionEnvShape,
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://postgres@127.0.0.1:5441,127.0.0.1:5442/users?target_session_attrs=primary'),
  /** Images a user may have at once unless their account says otherwise. */
  UPLOAD_QUOTA: env.positiveInt(100),
  /**
   * scrypt cost as log2(N), with r=8, p=1. 14 (N=16384, 16 MiB) measured ~50-60 ms of CPU per hash on the
   * development machine; the stored hash carries its own parameters, so raising this later re-hashes on login.
   */
  /**
   * scrypt's N = 2^cost (r=8, p=1): 15 costs about 75-95 ms of CPU and 32 MiB per hash on the
   * reference machine (npm run bench:login; docs/security.md has the numbers). Raised from 14;
   * older hashes are re-hashed at the owner's next login.
   */
  SCRYPT_LOG2_COST: z.coerce.number().int().min(10).max(20).default(15),
  /** Live sessions per user; a login past it ends the oldest. */
  MAX_SESSIONS_PER_USER: env.positiveInt(20),
  ACCESS_TOKEN_TTL_SECONDS: env.positiveInt(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: env.positiveInt(30 * 24 * 3600),
});

export type UsersConfig = Readonly<z.infer<typeof usersConfigSchema>>;

export function loadUsersConfig(environment: Env = process.env): UsersConfig {
  return loadConfig(usersConfigSchema, environment);
}
