import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LauncherConfig } from './config.js';
import { runChecked } from './exec.js';
import type { ClusterLayout } from './layout.js';
import { pgBin } from './postgres.js';
import { secretFile } from './secrets.js';

// `easel backup <dir>` and `easel restore <dir>`: the three service databases dumped with
// pg_dump (custom format, one file each) from whichever data node is the primary, and loaded
// back with pg_restore into the primary, replacing what is there. The standby follows by
// replication. docs/operations.md says when and how to use them; test/e2e/backup-restore.test.ts
// writes data, dumps, wipes the cluster, restores and reads it back.

export const manifestFile = 'easel-backup.json';

export interface BackupManifest {
  createdAt: string;
  databases: string[];
  /** pg_dump's version line, so a restore on an older PostgreSQL can say why it fails. */
  pgDump: string;
}

/** A libpq URL of both data nodes that settles on the primary (libpq tries each host in turn). */
export function primaryConnection(layout: ClusterLayout, database: string): string {
  const hosts = [layout.postgres.primaryPort, layout.postgres.standbyPort].map((port) => `${layout.host}:${port}`).join(',');
  return `postgresql://postgres@${hosts}/${database}?target_session_attrs=primary&connect_timeout=5`;
}

/** The superuser's password when the cluster has one (secrets.ts); libpq reads it from PGPASSWORD, never from the command line. */
function passwordEnvironment(layout: ClusterLayout): Record<string, string> {
  const file = secretFile(layout.dataDir, 'postgres-superuser-password');
  return existsSync(file) ? { PGPASSWORD: readFileSync(file, 'utf8').trim() } : {};
}

export async function backupDatabases(layout: ClusterLayout, config: LauncherConfig, directory: string, log: (line: string) => void = () => undefined): Promise<BackupManifest> {
  const target = resolve(directory);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  const env = passwordEnvironment(layout);
  const pgDump = pgBin('pg_dump', layout.postgres.binDir);
  const version = (await runChecked(pgDump, ['--version'], { environment: config.childEnvironment })).stdout.trim();
  for (const database of layout.postgres.databases) {
    const file = join(target, `${database}.dump`);
    const started = Date.now();
    await runChecked(pgDump, ['--format=custom', '--file', file, '--dbname', primaryConnection(layout, database)], { environment: config.childEnvironment, env, timeoutMs: 30 * 60_000 });
    log(`dumped ${database} to ${file} in ${Date.now() - started} ms`);
  }
  const manifest: BackupManifest = { createdAt: new Date().toISOString(), databases: [...layout.postgres.databases], pgDump: version };
  writeFileSync(join(target, manifestFile), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

/** Replaces each database's contents with the backup's; refuses a folder that is not a complete backup before touching anything. */
export async function restoreDatabases(layout: ClusterLayout, config: LauncherConfig, directory: string, log: (line: string) => void = () => undefined): Promise<BackupManifest> {
  const source = resolve(directory);
  const manifestPath = join(source, manifestFile);
  if (!existsSync(manifestPath)) throw new Error(`${source} is not an Easel backup (no ${manifestFile})`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as BackupManifest;
  const missing = manifest.databases.filter((database) => !existsSync(join(source, `${database}.dump`)));
  if (missing.length > 0) throw new Error(`the backup in ${source} lacks ${missing.map((database) => `${database}.dump`).join(', ')}`);
  const unknown = manifest.databases.filter((database) => !layout.postgres.databases.includes(database));
  if (unknown.length > 0) throw new Error(`the backup holds databases this cluster does not have: ${unknown.join(', ')}`);
  const env = passwordEnvironment(layout);
  for (const database of manifest.databases) {
    const started = Date.now();
    // One transaction per database: a failed restore leaves it as it was.
    await runChecked(pgBin('pg_restore', layout.postgres.binDir), [
      '--clean', '--if-exists', '--single-transaction', '--exit-on-error',
      '--dbname', primaryConnection(layout, database), join(source, `${database}.dump`),
    ], { environment: config.childEnvironment, env, timeoutMs: 30 * 60_000 });
    log(`restored ${database} in ${Date.now() - started} ms`);
  }
  return manifest;
}
