import { z } from 'zod';
import { loadConfig, type Env } from '../platform/config.js';

// The launcher's one config loader: what it takes from its environment, read once at start
// (cli.ts; tests pass their own) and handed down. The cluster's shape is the layout
// (layout.ts: defaults, a JSON file, flags); the environment only names that file and is what
// every child process starts from.

export const launcherConfigSchema = z.object({
  /** A JSON file of layout overrides; the --config flag wins over it. */
  EASEL_CONFIG: z.string().min(1).optional(),
  /** Where commands are found (pg_autoctl gets PostgreSQL's bin directory in front of it). */
  PATH: z.string().min(1).default('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
});

/** The environment a child process starts from; each adds its own settings on top. */
export type ChildEnvironment = Readonly<Record<string, string>>;

export type LauncherConfig = Readonly<z.infer<typeof launcherConfigSchema>> & {
  /** The launcher's whole environment as it was at start: children inherit it (HOME, LANG, ...). */
  readonly childEnvironment: ChildEnvironment;
};

export function loadLauncherConfig(environment: Env = process.env): LauncherConfig {
  const variables = loadConfig(launcherConfigSchema, environment);
  const inherited = Object.entries(environment).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return Object.freeze({ ...variables, childEnvironment: Object.freeze({ ...Object.fromEntries(inherited), PATH: variables.PATH }) });
}
