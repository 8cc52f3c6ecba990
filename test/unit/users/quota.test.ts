import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/platform/errors.js';
import { memoryUsersRepository, type MemoryUsersRepository } from '../../fakes/memory-users.repository.js';
import { currentQuota, releaseUpload, reserveUpload } from '../../../src/users/quota.js';

let repo: MemoryUsersRepository;
const userId = '00000000-0000-4000-8000-000000000001';

beforeEach(async () => {
  repo = memoryUsersRepository();
  await repo.insertUser({ id: userId, name: 'Mario', passwordHash: 'x' });
});

describe('upload quota', () => {
  it('reserves up to the limit, then refuses with QUOTA_EXCEEDED', async () => {
    expect(await reserveUpload(repo, 2, userId, 'a')).toEqual({ used: 1, limit: 2 });
    expect(await reserveUpload(repo, 2, userId, 'b')).toEqual({ used: 2, limit: 2 });
    const refused = await reserveUpload(repo, 2, userId, 'c').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { used: 2, limit: 2 } });
  });

  it('is idempotent by upload id: repeating a reserve or a release changes nothing', async () => {
    await reserveUpload(repo, 5, userId, 'a');
    expect(await reserveUpload(repo, 5, userId, 'a')).toEqual({ used: 1, limit: 5 });
    expect(await releaseUpload(repo, 5, userId, 'a')).toEqual({ used: 0, limit: 5 });
    expect(await releaseUpload(repo, 5, userId, 'a')).toEqual({ used: 0, limit: 5 });
  });

  it('a repeated reserve for an upload already counted succeeds even when the quota is full', async () => {
    await reserveUpload(repo, 1, userId, 'a');
    expect(await reserveUpload(repo, 1, userId, 'a')).toEqual({ used: 1, limit: 1 });
  });

  it('release gives the unit back', async () => {
    await reserveUpload(repo, 1, userId, 'a');
    await releaseUpload(repo, 1, userId, 'a');
    expect(await reserveUpload(repo, 1, userId, 'b')).toEqual({ used: 1, limit: 1 });
  });

  it('concurrent reserves never exceed the limit', async () => {
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => reserveUpload(repo, 3, userId, `u${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(await currentQuota(repo, 3, userId)).toEqual({ used: 3, limit: 3 });
  });

  it('a user\'s own limit overrides the default', async () => {
    repo.setUploadLimit(userId, 1);
    expect(await currentQuota(repo, 100, userId)).toEqual({ used: 0, limit: 1 });
  });

  it('an unknown user cannot reserve; releasing for one is harmless', async () => {
    const unknown = '00000000-0000-4000-8000-000000000002';
    await expect(reserveUpload(repo, 3, unknown, 'a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await releaseUpload(repo, 3, unknown, 'a')).toEqual({ used: 0, limit: 3 });
  });
});
