import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

// Every secret the cluster uses is generated here on first start, kept in one private folder
// under the data directory (0700, each file 0600, never in git, logs or metrics) and reused on
// every later start. Rotating one means deleting its file and restarting (docs/operations.md).
// Processes receive secrets as environment variables set by the launcher; compose and
// Kubernetes pass the same names from their own secret stores.

/** The names of the secret files, which are also what operators see in the folder. */
export const secretNames = [
  // Signs service-to-service credentials (discovery registrations, RPC calls).
  'cluster-secret',
  // Encrypts the users service's JWT signing keys at rest.
  'signing-key-secret',
  // PostgreSQL: the superuser the launcher administers with, one role per service, replication, the exporter.
  'postgres-superuser-password',
  'postgres-users-password',
  'postgres-images-password',
  'postgres-recommendations-password',
  'postgres-replication-password',
  'postgres-exporter-password',
  // Redis ACL users: the services' user and the exporter's.
  'redis-easel-password',
  'redis-exporter-password',
] as const;

export type SecretName = (typeof secretNames)[number];
export type ClusterSecrets = Readonly<Record<SecretName, string>>;

export function secretsDir(dataDir: string): string {
  return join(dataDir, 'secrets');
}

/** Reads every secret from `<dataDir>/secrets`, creating the ones that are missing. */
export function loadOrCreateSecrets(dataDir: string): ClusterSecrets {
  const dir = secretsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is ignored for an existing folder: make sure an older one is private too.
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  const secrets = {} as Record<SecretName, string>;
  for (const name of secretNames) secrets[name] = loadOrCreateSecret(dir, name);
  return Object.freeze(secrets);
}

/** The path of one secret's file, for tools that read a password from a file (exporters, pg_dump's PGPASSFILE). */
export function secretFile(dataDir: string, name: SecretName): string {
  return join(secretsDir(dataDir), name);
}

function loadOrCreateSecret(dir: string, name: SecretName): string {
  const file = join(dir, name);
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (value.length >= 16) return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // URL- and shell-safe, so it can sit in a connection string or an environment file unquoted.
  const value = randomBytes(32).toString('base64url');
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** A connection URL with its password replaced by `shown` (e.g. where the password lives), for output and logs. */
export function withoutPassword(url: string, shown: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, `//$1:${shown}@`);
}
