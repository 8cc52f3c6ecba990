import type { z } from 'zod';
import { discoveryConfigSchema } from '../../src/discovery/config.js';
import { gatewayConfigSchema } from '../../src/gateway/config.js';
import { imagesConfigSchema } from '../../src/images/config.js';
import { recommendationsConfigSchema } from '../../src/recommendations/config.js';
import { usersConfigSchema } from '../../src/users/config.js';
import { resolveLayout, type ClusterLayout } from '../../src/launcher/layout.js';
import type { ProcessKind, ProcessSpec } from '../../src/launcher/spec.js';
import { buildProcessSpecs } from '../../src/launcher/specs.js';
import { loadLauncherConfig } from '../../src/launcher/config.js';

// What the deployment tests (docker compose, Kubernetes) compare against: the launcher's own
// process list for the default layout, with Prometheus and the exporters on, and the variables
// each Easel process's config loader needs, read from its schema.

export const easelKinds = ['discovery', 'users', 'images', 'recommendations', 'gateway'] as const;
export type EaselKind = (typeof easelKinds)[number];

export const configSchemas: Record<EaselKind, z.ZodObject<z.ZodRawShape>> = {
  discovery: discoveryConfigSchema,
  users: usersConfigSchema,
  images: imagesConfigSchema,
  recommendations: recommendationsConfigSchema,
  gateway: gatewayConfigSchema,
};

export function isEaselKind(kind: ProcessKind): kind is EaselKind {
  return (easelKinds as readonly string[]).includes(kind);
}

/** Variables a config schema cannot do without (no default, not optional). */
export function variablesWithoutDefault(kind: EaselKind): string[] {
  const shape = configSchemas[kind].shape as Record<string, z.ZodType>;
  return Object.keys(shape).filter((key) => !shape[key]!.safeParse(undefined).success);
}

export function schemaVariables(kind: EaselKind): string[] {
  return Object.keys(configSchemas[kind].shape);
}

export interface LauncherProcess {
  spec: ProcessSpec;
  /** The environment the launcher gives an Easel process (beyond its own), empty for the others. */
  env: Record<string, string>;
  /** The arguments the launcher runs an Easel process's node with (flags, then the entry's path), empty for the others. */
  args: string[];
}

export interface LauncherTopology {
  layout: ClusterLayout;
  processes: LauncherProcess[];
  /** Which instance owns each fixed port of the layout. */
  instanceByPort: Map<number, string>;
}

/** The processes `make start` runs with every part on (needs `npm run build`: the launcher checks its entry points). */
export async function launcherTopology(): Promise<LauncherTopology> {
  const layout = resolveLayout({ prometheus: { enabled: true }, exporters: { enabled: true } });
  const specs = await buildProcessSpecs(layout, loadLauncherConfig());
  const processes = await Promise.all(specs.map(async (spec) => {
    if (!isEaselKind(spec.kind)) return { spec, env: {}, args: [] };
    const launch = await spec.launch();
    return { spec, env: launch.env ?? {}, args: launch.args };
  }));
  const instanceByPort = new Map<number, string>();
  for (const { spec } of processes) if (!['users', 'images', 'recommendations'].includes(spec.kind)) instanceByPort.set(spec.port, spec.instance);
  return { layout, processes, instanceByPort };
}

/**
 * The variables a deployment must set for an Easel process: those its schema has no default
 * for, and those the launcher sets that the schema reads (the defaults point at 127.0.0.1).
 */
export function requiredVariables(kind: EaselKind, launcherEnv: Record<string, string>): string[] {
  const known = new Set(schemaVariables(kind));
  return [...new Set([...variablesWithoutDefault(kind), ...Object.keys(launcherEnv).filter((key) => known.has(key))])].sort();
}

/** Replaces every "127.0.0.1:<port>" of a launcher value with `addressOf(instance, port)`. */
export function translateAddresses(value: string, topology: LauncherTopology, addressOf: (instance: string, port: number) => string): string {
  const host = topology.layout.host.replace(/\./g, '\\.');
  return value.replace(new RegExp(`${host}:(\\d+)`, 'g'), (whole, port: string) => {
    const instance = topology.instanceByPort.get(Number(port));
    return instance ? addressOf(instance, Number(port)) : whole;
  });
}

/** Counts per process kind, e.g. { users: 2, redis: 4, ... }. */
export function countByKind(kinds: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
