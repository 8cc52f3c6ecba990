import { z } from 'zod';
import { loadConfig, serviceEnvShape, type Env } from '../platform/config.js';

export const imagesConfigSchema = z.object({
  ...serviceEnvShape,
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://postgres@127.0.0.1:5441,127.0.0.1:5442/images?target_session_attrs=read-write'),
});

export type ImagesConfig = Readonly<z.infer<typeof imagesConfigSchema>>;

export function loadImagesConfig(environment: Env = process.env): ImagesConfig {
  return loadConfig(imagesConfigSchema, environment);
}
