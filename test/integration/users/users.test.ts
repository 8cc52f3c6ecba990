import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationPostgres } from '../../harness/context.js';
import { usersContract } from '../../../src/contracts/users.js';
import { loadConfig } from '../../../src/platform/config.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { createRpcClient, type RpcTransport } from '../../../src/platform/rpc/client.js';
import { buildUsersApp } from '../../../src/users/app.js';
import { usersConfigSchema } from '../../../src/users/config.js';
import { testClusterSecret, trustedTestTransport } from '../../support/credentials.js';

// Two replicas of the users service on one real PostgreSQL, called over RPC: they share one
// signing key, and the upload quota holds under concurrent reservations through both.

const apps: FastifyInstance[] = [];
const transports: RpcTransport[] = [];
let replicas: Array<ReturnType<typeof createRpcClient<typeof usersContract.methods>>>;

beforeAll(async () => {
  const databaseUrl = await integrationPostgres().createDatabase('users_replicas');
  const build = (name: string) => buildUsersApp({
    config: loadConfig(usersConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: name, DATABASE_URL: databaseUrl, UPLOAD_QUOTA: '5', SCRYPT_LOG2_COST: '12' }),
    logger: createLogger({ name, level: 'silent' }),
    metrics: createMetricsRegistry(name, { defaults: false }),
  });
  // Started at the same time: migrations and key creation race, as two replicas' starts do.
  apps.push(...(await Promise.all([build('users-1'), build('users-2')])));
  replicas = [];
  for (const app of apps) {
    const transport = trustedTestTransport(await app.listen({ host: '127.0.0.1', port: 0 }));
    transports.push(transport);
    replicas.push(createRpcClient(usersContract, transport));
  }
});

afterAll(async () => {
  await Promise.allSettled(transports.map((t) => t.close?.()));
  await Promise.allSettled(apps.map((a) => a.close()));
});

describe('users replicas', () => {
  it('publish one and the same signing key', async () => {
    const [a, b] = await Promise.all(replicas.map((r) => r.SigningKeys({})));
    expect(a!.keys).toHaveLength(1);
    expect(a).toEqual(b);
    expect(a!.keys[0]).not.toHaveProperty('d');
  });

  it('a session started on one replica refreshes on the other', async () => {
    const [one, two] = replicas as [typeof replicas[0], typeof replicas[0]];
    await one.Register({ name: 'Yoshi', password: 'green dinosaur' });
    const pair = await one.Login({ name: 'Yoshi', password: 'green dinosaur' });
    const rotated = await two.Refresh({ refreshToken: pair.refreshToken });
    expect(rotated.userId).toBe(pair.userId);
    await expect(one.Refresh({ refreshToken: pair.refreshToken })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('upload quota under concurrency', () => {
  it('concurrent reserves through both replicas never exceed the limit; repeats are idempotent; release gives back', async () => {
    const [one, two] = replicas as [typeof replicas[0], typeof replicas[0]];
    const { userId } = await one.Register({ name: 'Toad', password: 'mushroom kingdom' });
    const attempts = Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).ReserveUpload({ userId, uploadId: `upload-${i % 8}` }));
    const results = await Promise.allSettled(attempts);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const failure of refused) expect(failure.reason).toMatchObject({ code: 'QUOTA_EXCEEDED', message: 'upload quota exceeded' });
    expect(await one.GetQuota({ userId })).toEqual({ used: 5, limit: 5 });

    // Which uploads got a unit: repeating their reserve changes nothing.
    const holders: string[] = [];
    for (let i = 0; i < 8; i++) {
      const again = await two.ReserveUpload({ userId, uploadId: `upload-${i}` }).then(() => true, () => false);
      if (again) holders.push(`upload-${i}`);
    }
    expect(holders).toHaveLength(5);
    expect(await one.GetQuota({ userId })).toEqual({ used: 5, limit: 5 });

    expect(await one.ReleaseUpload({ userId, uploadId: holders[0]! })).toEqual({ used: 4, limit: 5 });
    expect(await two.ReleaseUpload({ userId, uploadId: holders[0]! })).toEqual({ used: 4, limit: 5 });
    expect(await two.ReserveUpload({ userId, uploadId: 'upload-new' })).toEqual({ used: 5, limit: 5 });
  });

  it('an unknown user id cannot reserve', async () => {
    await expect(replicas[0]!.ReserveUpload({ userId: 'not-a-user', uploadId: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(replicas[0]!.ReserveUpload({ userId: '00000000-0000-4000-8000-000000000000', uploadId: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
