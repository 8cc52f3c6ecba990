import { z } from 'zod';
import { loadConfig, serviceEnvShape, type Env } from '../platform/config.js';

export const usersConfigSchema = z.object({
  ...serviceEnvShape,
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://postgres@127.0.0.1:5441,127.0.0.1:5442/users?target_session_attrs=read-write'),
});

export type UsersConfig = Readonly<z.infer<typeof usersConfigSchema>>;

export function loadUsersConfig(environment: Env = process.env): UsersConfig {
  return loadConfig(usersConfigSchema, environment);
}
