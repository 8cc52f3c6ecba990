import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The uid/gid a child process runs as; undefined means "as we are". */
export interface RunAs {
  uid: number;
  gid: number;
  home: string;
}

let cachedPostgresUser: RunAs | undefined | null = null;

/**
 * PostgreSQL refuses to run as root: when we are root, its processes run as the `postgres`
 * system user (created by the Debian packages).
 */
export function postgresRunAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  if (cachedPostgresUser !== null) return cachedPostgresUser;
  try {
    const line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
    const [, , uid, gid, , home] = line.split(':');
    cachedPostgresUser = { uid: Number(uid), gid: Number(gid), home: home || '/var/lib/postgresql' };
  } catch {
    throw new Error('running as root but there is no "postgres" system user: install the postgresql package (apt-get install -y postgresql)');
  }
  return cachedPostgresUser;
}

/** Creates `dir` (and parents) and hands it, recursively, to `runAs` when given. */
export function ensureDirFor(dir: string, runAs: RunAs | undefined, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
  if (runAs) chownRecursive(dir, runAs);
}

function chownRecursive(path: string, runAs: RunAs): void {
  try {
    const stat = statSync(path);
    if (stat.uid !== runAs.uid || stat.gid !== runAs.gid) chownSync(path, runAs.uid, runAs.gid);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) chownRecursive(join(path, entry), runAs);
  } catch (error) {
    // A running PostgreSQL renames files under its data folder (current_logfiles.tmp): one that
    // went away between the listing and the stat needs no owner.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
