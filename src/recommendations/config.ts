import { z } from 'zod';
import { loadConfig, serviceEnvShape, type Env } from '../platform/config.js';

export const recommendationsConfigSchema = z.object({
  ...serviceEnvShape,
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://postgres@127.0.0.1:5441,127.0.0.1:5442/recommendations?target_session_attrs=read-write'),
});

export type RecommendationsConfig = Readonly<z.infer<typeof recommendationsConfigSchema>>;

export function loadRecommendationsConfig(environment: Env = process.env): RecommendationsConfig {
  return loadConfig(recommendationsConfigSchema, environment);
}
