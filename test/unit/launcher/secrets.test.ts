import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateSecrets, secretFile, secretNames, secretsDir, withoutPassword } from '../../../src/launcher/secrets.js';

describe('cluster secrets', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'easel-secrets-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates every secret on first start, private to the owner, and reuses them afterwards', () => {
    const dir = dataDir();
    const first = loadOrCreateSecrets(dir);
    expect(Object.keys(first).sort()).toEqual([...secretNames].sort());
    expect(new Set(Object.values(first)).size).toBe(secretNames.length);
    expect(statSync(secretsDir(dir)).mode & 0o777).toBe(0o700);
    for (const name of secretNames) {
      expect(first[name]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(statSync(secretFile(dir, name)).mode & 0o777).toBe(0o600);
    }
    expect(loadOrCreateSecrets(dir)).toEqual(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('replaces a secret whose file was deleted or emptied (rotation) and keeps the others', () => {
    const dir = dataDir();
    const first = loadOrCreateSecrets(dir);
    writeFileSync(secretFile(dir, 'cluster-secret'), '');
    const second = loadOrCreateSecrets(dir);
    expect(second['cluster-secret']).not.toBe(first['cluster-secret']);
    expect(second['postgres-users-password']).toBe(first['postgres-users-password']);
    expect(readFileSync(secretFile(dir, 'cluster-secret'), 'utf8').trim()).toBe(second['cluster-secret']);
  });

  it('keeps passwords out of the URLs the launcher prints', () => {
    const printed = withoutPassword('postgres://postgres:s3cr3t-Value_x@127.0.0.1:5441,127.0.0.1:5442/users?target_session_attrs=primary', '<password in .easel/secrets/postgres-superuser-password>');
    expect(printed).toBe('postgres://postgres:<password in .easel/secrets/postgres-superuser-password>@127.0.0.1:5441,127.0.0.1:5442/users?target_session_attrs=primary');
    expect(printed).not.toContain('s3cr3t');
    expect(withoutPassword('postgres://postgres@127.0.0.1:5441/users', 'x')).toBe('postgres://postgres@127.0.0.1:5441/users');
  });
});
