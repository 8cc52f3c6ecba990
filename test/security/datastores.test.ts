import { mkdtempSync, rmSync, statSync, readdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecrets, secretNames, type ClusterSecrets } from '../../src/launcher/secrets.js';
import { postgresUrl, secureDatabases } from '../../src/launcher/postgres.js';
import { dataNodeSecurity, serviceRole } from '../../src/launcher/postgres-ha.js';
import { resolveLayout } from '../../src/launcher/layout.js';
import { exporterRedisUser, serviceRedisUser } from '../../src/launcher/redis-config.js';
import { createCacheRing, type CacheRing } from '../../src/platform/cache/index.js';
import { createLogger } from '../../src/platform/log.js';
import { systemClock } from '../../src/platform/clock.js';
import { runMigrations } from '../../src/platform/db/database.js';
import { usersMigrations } from '../../src/users/migrations.js';
import { openSigningKeyRing, type SigningKeyRing } from '../../src/users/signing-keys.js';
import { createSigningKeysRepository } from '../../src/users/signing-keys.repository.js';
import { generateSigningKeyMaterial, issueAccessToken, loadSigningKey } from '../../src/users/tokens.js';
import { accessTokenClaims } from '../../src/contracts/users.js';
import type { SharedState } from '../../src/gateway/shared-state.js';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import { startRedisNode, type RedisNodeHandle } from '../harness/redis.js';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';

// Issue 12, item 5: the data stores are closed. Against a real PostgreSQL and real Redis nodes
// configured exactly as the launcher configures them (same functions), with secrets made by the
// launcher's own secrets module.

const silent = createLogger({ name: 'security-datastores', level: 'silent' });
let dataDir: string;
let secrets: ClusterSecrets;
let pg: PostgresHandle;
let redis: RedisNodeHandle;

const connect = (url: string) => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
/** Runs one query on a fresh connection; the connection is always closed. */
async function query<T extends object>(url: string, text: string): Promise<T[]> {
  const sql = connect(url);
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end({ timeout: 1 });
  }
}
const login = (user: string, password: string | undefined, database: string) =>
  postgresUrl(pg.host, pg.port, database, password === undefined ? { user } : { user, password });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'easel-datastores-'));
  secrets = loadOrCreateSecrets(dataDir);
  [pg, redis] = await Promise.all([
    startPostgres(),
    startRedisNode('cache-1', undefined, { easelPassword: secrets['redis-easel-password'], exporterPassword: secrets['redis-exporter-password'], maxMemoryMb: 4 }),
  ]);
  // A data directory from an older start: the service database exists, owned by the superuser,
  // with a table the superuser created. The launcher's start-up converts it, no manual step.
  await query(pg.adminUrl, 'create database users');
  await query(pg.url('users'), 'create table legacy (id int primary key)');
  const layout = resolveLayout({ dataDir });
  await secureDatabases(pg.adminUrl, { ...dataNodeSecurity(layout, secrets), superuserPassword: pg.superuserPassword });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([pg?.stop(), redis?.kill()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the secrets folder', () => {
  it('is private: the folder 0700, every secret file 0600, each secret long and distinct, reused on the next start', () => {
    const folder = join(dataDir, 'secrets');
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(readdirSync(folder).sort()).toEqual([...secretNames].sort());
    for (const name of secretNames) {
      expect(statSync(join(folder, name)).mode & 0o777, name).toBe(0o600);
      expect(secrets[name].length, name).toBeGreaterThanOrEqual(32);
    }
    expect(new Set(Object.values(secrets)).size).toBe(secretNames.length);
    // A folder someone opened up is closed again; the secrets stay what they were.
    chmodSync(folder, 0o755);
    expect(loadOrCreateSecrets(dataDir)).toEqual(secrets);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
  });
});

describe('PostgreSQL', () => {
  it('refuses every connection without the right password, the superuser included (no trust anywhere)', async () => {
    await expect(query(login('postgres', undefined, 'postgres'), 'select 1')).rejects.toThrow(/password/i);
    await expect(query(login('postgres', 'not the password', 'postgres'), 'select 1')).rejects.toThrow(/password authentication failed/);
    await expect(query(login(serviceRole('users'), secrets['postgres-images-password'], 'users'), 'select 1')).rejects.toThrow(/password authentication failed/);
    const rules = await query<{ auth_method: string }>(pg.adminUrl, 'select auth_method from pg_hba_file_rules');
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules.map((r) => r.auth_method))).toEqual(new Set(['scram-sha-256']));
  });

  it('gives each service a role that owns its database, is no superuser, and cannot enter another service\'s database', async () => {
    const users = login(serviceRole('users'), secrets['postgres-users-password'], 'users');
    const [me] = await query<{ super: boolean; createrole: boolean; owner: string }>(users, `
      select rolsuper as super, rolcreaterole as createrole, pg_get_userbyid(datdba) as owner
      from pg_roles, pg_database where rolname = current_user and datname = current_database()`);
    expect(me).toEqual({ super: false, createrole: false, owner: 'easel_users' });
    // The table an older start created as the superuser now belongs to the service.
    await query(users, 'insert into legacy values (1)');
    expect(await query(users, 'select id from legacy')).toEqual([{ id: 1 }]);
    // Another service's role, with its own right password, is not let into the users database.
    await expect(query(login(serviceRole('images'), secrets['postgres-images-password'], 'users'), 'select 1')).rejects.toThrow(/permission denied for database "?users"?/);
    await expect(query(users, 'create role intruder')).rejects.toThrow(/permission denied/);
  });

  it('lets the exporter read statistics (pg_monitor) and nothing it was not given', async () => {
    const exporter = login('easel_exporter', secrets['postgres-exporter-password'], 'postgres');
    const [row] = await query<{ super: boolean; monitor: boolean }>(exporter, `select rolsuper as super, pg_has_role(current_user, 'pg_monitor', 'member') as monitor from pg_roles where rolname = current_user`);
    expect(row).toEqual({ super: false, monitor: true });
    await expect(query(login('easel_exporter', secrets['postgres-exporter-password'], 'users'), 'select 1')).rejects.toThrow(/permission denied/);
  });
});

describe('Redis', () => {
  const client = (options: { username?: string; password?: string } = {}) =>
    new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false, ...options });
  let ring: CacheRing;

  beforeAll(async () => {
    ring = createCacheRing({ nodes: [{ name: 'cache-1', host: redis.host, port: redis.port }], logger: silent, replicas: 1, commandTimeoutMs: 2_000, username: serviceRedisUser, password: secrets['redis-easel-password'] });
    await ring.ready();
  });
  afterAll(async () => {
    await ring?.close();
  });

  it('refuses anonymous clients and wrong passwords, and gives each user only its commands', async () => {
    const anonymous = client();
    await anonymous.connect();
    await expect(anonymous.get('any')).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.auth('default', '')).rejects.toThrow(/WRONGPASS|disabled/);
    anonymous.disconnect();
    const wrong = client();
    await wrong.connect();
    await expect(wrong.auth(serviceRedisUser, secrets['redis-exporter-password'])).rejects.toThrow(/WRONGPASS/);
    wrong.disconnect();

    const easel = client({ username: serviceRedisUser, password: secrets['redis-easel-password'] });
    await easel.connect();
    await easel.set('security:probe', 'x', 'PX', 10_000);
    expect(await easel.get('security:probe')).toBe('x');
    for (const command of [() => easel.config('SET', 'maxmemory', '0'), () => easel.keys('*'), () => easel.acl('LIST'), () => easel.call('DEBUG', 'SLEEP', '0'), () => easel.call('SHUTDOWN')]) {
      // Refused by the ACL (NOPERM), DEBUG even before it (disabled in the server).
      await expect(command()).rejects.toThrow(/NOPERM|DEBUG command not allowed/);
    }
    easel.disconnect();

    const exporter = client({ username: exporterRedisUser, password: secrets['redis-exporter-password'] });
    await exporter.connect();
    expect(await exporter.info('server')).toMatch(/redis_version/);
    await expect(exporter.get('security:probe')).rejects.toThrow(/NOPERM/);
    await expect(exporter.set('security:probe', 'y')).rejects.toThrow(/NOPERM/);
    const settings = await exporter.config('GET', 'maxmemory*') as string[];
    expect(Object.fromEntries(settings.reduce<string[][]>((pairs, v, i) => (i % 2 ? pairs : [...pairs, [v, settings[i + 1]!]]), []))).toMatchObject({ 'maxmemory-policy': 'volatile-lru', maxmemory: String(4 * 1024 * 1024) });
    expect(await exporter.config('GET', 'protected-mode')).toEqual(['protected-mode', 'yes']);
    exporter.disconnect();
  });

  it('under memory pressure evicts cached entries, never a revocation or a rate-limit counter', async () => {
    for (let i = 0; i < 200; i++) {
      expect(await ring.setNeverEvicted(`auth:revoked:token-${i}`, '1', 3600)).toBe(1);
      expect(await ring.incrementWithin(`rl:login:name:user-${i}`, 300)).toBe(1);
    }
    // ~12 MiB of cached image bytes into a 4 MiB node.
    const chunk = Buffer.alloc(32 * 1024, 7);
    for (let i = 0; i < 384; i++) await ring.set(`img:filler-${i}:g:raw`, chunk, 300);
    const exporter = client({ username: exporterRedisUser, password: secrets['redis-exporter-password'] });
    await exporter.connect();
    const stats = await exporter.info('stats');
    exporter.disconnect();
    expect(Number(/evicted_keys:(\d+)/.exec(stats)![1])).toBeGreaterThan(0);
    let cachedLeft = 0;
    for (let i = 0; i < 384; i++) if (await ring.get(`img:filler-${i}:g:raw`)) cachedLeft++;
    expect(cachedLeft).toBeLessThan(384);
    for (let i = 0; i < 200; i++) {
      expect(await ring.get(`auth:revoked:token-${i}`), `revocation ${i}`).not.toBeNull();
      expect(await ring.incrementWithin(`rl:login:name:user-${i}`, 300), `counter ${i}`).toBe(2);
    }
  });

  it('still lets never-evicted entries and counter windows expire', async () => {
    await ring.setNeverEvicted('auth:revoked:short', '1', 0.3);
    expect(await ring.incrementWithin('rl:short', 0.3)).toBe(1);
    expect(await ring.incrementWithin('rl:short', 0.3)).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The next write sweeps what expired; a window past its end starts again.
    expect(await ring.incrementWithin('rl:short', 0.3)).toBe(1);
    expect(await ring.get('auth:revoked:short')).toBeNull();
  });
});

describe('the gateway\'s image cache', () => {
  let stack: Stack;
  let ring: CacheRing;

  beforeAll(async () => {
    ring = createCacheRing({ nodes: [{ name: 'cache-1', host: redis.host, port: redis.port }], logger: silent, replicas: 1, commandTimeoutMs: 2_000, username: serviceRedisUser, password: secrets['redis-easel-password'] });
    await ring.ready();
    const sharedState: SharedState = ring;
    stack = await startStack({ createDatabase: (prefix) => pg.createDatabase(prefix), sharedState });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await ring?.close();
  });

  it('treats an entry that does not decode as a miss: garbage in the cache, the image still served', async () => {
    const api = apiClient(stack.gatewayUrl);
    try {
      const account = await api.newAccount('cache');
      const uploaded = await api.upload(account.accessToken, await makeImage('png', 64, 48), { title: 'kept' });
      expect(uploaded.status).toBe(201);
      const imageId = uploaded.body.imageID as string;
      const paths = [`/${imageId}`, `/${imageId}/info`, `/${imageId}/raw`, `/${imageId}/thumb`];
      const first = await Promise.all(paths.map((path) => api.get(path)));
      expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const generation = (await ring.get(`img:${imageId}:gen`))!.toString();
      for (const variant of ['get', 'info', 'raw', 'thumb']) {
        for (const garbage of [Buffer.from('not json at all'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), Buffer.from('[1,2]')]) {
          await ring.set(`img:${imageId}:${generation}:${variant}`, garbage, 300);
          const again = await api.get(paths[['get', 'info', 'raw', 'thumb'].indexOf(variant)]!);
          expect(again.status, `${variant} after ${garbage.toString('hex')}`).toBe(200);
          expect(again.bytes.equals(first[['get', 'info', 'raw', 'thumb'].indexOf(variant)]!.bytes)).toBe(true);
        }
      }
    } finally {
      await api.close();
    }
  });
});

describe('the access-token signing keys', () => {
  let sql: postgres.Sql;
  const rings: SigningKeyRing[] = [];
  // Near the real time: the migrated row gets the database's now() as its creation time.
  let now = Date.now();
  const clock = { ...systemClock, now: () => now };
  const secret = 'a signing key secret long enough for HKDF input 0123';
  const openRing = async (withSecret = secret) => {
    const ring = await openSigningKeyRing({ repo: createSigningKeysRepository(sql), secret: withSecret, clock, logger: silent, accessTokenTtlSeconds: 900, rotationSeconds: 30 * 86_400, refreshSeconds: 60 });
    rings.push(ring);
    return ring;
  };
  const verify = (token: string, keys: JWK[]) =>
    jwtVerify(token, createLocalJWKSet({ keys }), { issuer: accessTokenClaims.issuer, audience: accessTokenClaims.audience, currentDate: new Date(now) });

  beforeAll(async () => {
    sql = connect(await pg.createDatabase('signing_keys'));
  });
  afterAll(async () => {
    for (const ring of rings) ring.close();
    await sql?.end({ timeout: 1 });
  });

  it('keeps no usable private key in the table, seals a plaintext key an older version stored, and rotates with old tokens valid until retired', async () => {
    // An older version's database: migration 001 and a plaintext key, which signed a token.
    await runMigrations(sql, 'users', usersMigrations.slice(0, 1));
    const old = await generateSigningKeyMaterial();
    await sql`insert into signing_keys (id, kid, private_jwk, public_jwk) values (1, ${old.kid}, ${sql.json(old.privateJwk as never)}, ${sql.json(old.publicJwk as never)})`;
    const oldToken = (await issueAccessToken(await loadSigningKey(old), { userId: 'u1', name: 'mario', sessionId: 's1' }, Math.floor(now / 1000), 900)).token;
    await runMigrations(sql, 'users', usersMigrations);
    // The service's clock, a little after the row's creation time (the database's now()).
    now = Date.now() + 1_000;

    const ring = await openRing();
    // The same key still signs (nobody is logged out by the upgrade), but the table no longer holds it in clear.
    expect(ring.current().kid).toBe(old.kid);
    const rows = await sql<Array<{ kid: string; private_jwk: unknown; sealed: Buffer }>>`select kid, private_jwk, private_key_sealed as sealed from signing_keys`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.private_jwk).toBeNull();
    const dump = JSON.stringify(await sql`select * from signing_keys`);
    expect(dump).not.toContain(old.privateJwk.d!);
    expect(rows[0]!.sealed.includes(Buffer.from(old.privateJwk.d!, 'base64url'))).toBe(false);
    await expect(verify(oldToken, ring.published())).resolves.toBeTruthy();

    // Rotation: the new key is published at once, signs after the publication lead; the old key stays published.
    await ring.rotate();
    const newKid = ring.published()[0]!.kid!;
    expect(newKid).not.toBe(old.kid);
    expect(ring.published().map((k) => k.kid)).toEqual([newKid, old.kid]);
    expect(ring.current().kid).toBe(old.kid);
    now += 61_000;
    await ring.refresh();
    expect(ring.current().kid).toBe(newKid);
    const newToken = (await issueAccessToken(ring.current(), { userId: 'u1', name: 'mario', sessionId: 's2' }, Math.floor(now / 1000), 900)).token;
    await expect(verify(newToken, ring.published())).resolves.toBeTruthy();
    // Another replica, started now, signs with the same new key and publishes both.
    const replica = await openRing();
    expect(replica.current().kid).toBe(newKid);
    expect(replica.published().map((k) => k.kid)).toEqual([newKid, old.kid]);

    // After the token lifetime (plus lead, refresh and skew) the old key is retired: gone from the table and from what is published.
    now += (60 + 900 + 60 + 60) * 1000;
    await ring.refresh();
    expect(ring.published().map((k) => k.kid)).toEqual([newKid]);
    expect((await sql`select kid from signing_keys`).map((r) => r.kid)).toEqual([newKid]);
    await expect(verify(oldToken, ring.published())).rejects.toThrow();
  });

  it('cannot be opened with another secret: a replica holding the wrong one refuses to sign with the stored keys', async () => {
    const [row] = await sql<Array<{ kid: string; sealed: Buffer }>>`select kid, private_key_sealed as sealed from signing_keys`;
    const { openPrivateJwk, sealingKey } = await import('../../src/users/signing-keys.js');
    expect(() => openPrivateJwk(sealingKey('another secret that is long enough 0123456789'), row!.kid, row!.sealed)).toThrow();
    expect(openPrivateJwk(sealingKey(secret), row!.kid, row!.sealed).d).toBeTruthy();
    // Moved to another key id, the sealed key does not open either (the id is authenticated).
    expect(() => openPrivateJwk(sealingKey(secret), 'another-kid', row!.sealed)).toThrow();
  });
});
