import { z } from 'zod';
import { env, loadConfig, serviceEnvShape, transactionEnvShape, type Env } from '../platform/config.js';

export const recommendationsConfigSchema = z.object({
  ...serviceEnvShape,
  ...transactionEnvShape,
  /** The service's own role (easel_recommendations) on both data nodes; its password comes apart, in DATABASE_PASSWORD. */
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://easel_recommendations@127.0.0.1:5441,127.0.0.1:5442/recommendations?target_session_attrs=primary'),
  DATABASE_PASSWORD: env.secret(),
  /** Connections in this replica's PostgreSQL pool. */
  DATABASE_POOL_SIZE: z.coerce.number().int().positive().default(10),
  /** An interest in a tag halves after this many days without new activity. */
  INTEREST_HALF_LIFE_DAYS: z.coerce.number().positive().default(14),
});

export type RecommendationsConfig = Readonly<z.infer<typeof recommendationsConfigSchema>>;

export function loadRecommendationsConfig(environment: Env = process.env): RecommendationsConfig {
  return loadConfig(recommendationsConfigSchema, environment);
}
