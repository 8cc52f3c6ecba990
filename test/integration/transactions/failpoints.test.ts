import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorFailpoints, participantFailpoints } from '../../../src/images/upload-transactions.js';
import type { UploadTransactionMode } from '../../../src/contracts/transactions.js';
import { makeImage } from '../../fixtures/images.js';
import { waitFor } from '../../../src/platform/wait.js';
import { startTransactionProcesses, type TransactionProcesses } from './transaction-processes.js';
import { readConsistency, settledConsistency, type Consistency } from './consistency.js';

// For every failpoint of both protocols: the process is SIGKILLed right there in the middle of
// an upload or delete, started again, and once recovery is done the three databases agree —
// each author's reserved quota is their number of images, every image is indexed and every
// index row has an image, nothing half-done is visible, no prepared transaction is left — and
// the upload retried with the same idempotency key ends with exactly one image and one unit.

/** Failpoints after which recovery finishes the work instead of undoing it. */
const forward: Record<UploadTransactionMode, Record<'upload' | 'delete', readonly string[]>> = {
  saga: {
    upload: ['before.IndexImage', 'after.IndexImage', 'before.publish'],
    // A saga delete is decided when it starts (the image is hidden at once): always forward.
    delete: coordinatorFailpoints.saga.delete,
  },
  '2pc': {
    upload: ['after.decision', 'after.commit.images', 'after.commit.users', 'after.commit.recommendations'],
    delete: ['after.decision', 'after.commit.images', 'after.commit.users', 'after.commit.recommendations'],
  },
};

function expectConsistent(state: Consistency): void {
  // Reserved quota = stored images, per user (users without either are absent from both).
  expect(state.quotaByUser).toEqual(state.imagesByAuthor);
  expect(state.notIndexed).toEqual([]);
  expect(state.orphanIndexRows).toEqual([]);
  expect(state.invisible).toBe(0);
  expect(state.prepared).toEqual({ users: 0, images: 0, recommendations: 0 });
  expect(state.unfinishedTransactions).toBe(0);
}

describe('uploads and deletes survive a SIGKILL at every failpoint (real processes)', () => {
  let cluster: TransactionProcesses;
  let image: Buffer;
  let counter = 0;

  beforeAll(async () => {
    cluster = await startTransactionProcesses('saga');
    image = await makeImage('png', 24, 24);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const newAuthor = async () => {
    const name = `artist${++counter}_${randomUUID().slice(0, 6)}`;
    const { userId } = await cluster.users.Register({ name, password: 'correct horse battery' });
    return { authorId: userId, authorName: name };
  };
  const upload = (author: { authorId: string; authorName: string }, key: string, tag: string) =>
    cluster.images.Upload({ ...author, title: 'crash test', tags: [tag], image }, { idempotencyKey: key, timeoutMs: 20_000 });
  /** As a client does after a failure: the same upload, same key, until it is answered (a breaker opened on the killed process may refuse it for a moment). */
  const retried = (author: { authorId: string; authorName: string }, key: string, tag: string) =>
    waitFor('the retried upload', () => upload(author, key, tag).catch(() => undefined), { timeoutMs: 20_000, intervalMs: 250 });

  /** After the retry: one image and one unit for the author, readable and listed under its tag. */
  const expectExactlyOne = async (author: { authorId: string }, imageId: string, tag: string) => {
    const state = await settledConsistency(cluster.databases);
    expectConsistent(state);
    expect(state.imagesByAuthor[author.authorId]).toBe(1);
    expect(state.quotaByUser[author.authorId]).toBe(1);
    expect((await cluster.images.GetInfo({ imageId })).tags).toEqual([tag]);
    expect((await cluster.images.List({ tag })).images.map((listed) => listed.imageId)).toEqual([imageId]);
  };

  for (const mode of ['saga', '2pc'] as const) {
    for (const point of coordinatorFailpoints[mode].upload) {
      it(`${mode} upload, images killed at ${point}`, async () => {
        const author = await newAuthor();
        const key = randomUUID();
        const tag = `t${counter}`;
        await cluster.start('images', [`${mode}.upload.${point}`], mode);
        const failure = await upload(author, key, tag).then(() => 'answered', (error: unknown) => String(error));
        expect(await cluster.exited('images').catch((error: unknown) => `${failure}; ${String(error)}`)).toContain(`failpoint ${mode}.upload.${point}: SIGKILL`);
        await cluster.start('images', [], mode);

        const recovered = await settledConsistency(cluster.databases);
        expectConsistent(recovered);
        expect(recovered.imagesByAuthor[author.authorId] ?? 0).toBe(forward[mode].upload.includes(point) ? 1 : 0);

        const { imageId } = await retried(author, key, tag);
        await expectExactlyOne(author, imageId, tag);
      });
    }

    for (const point of coordinatorFailpoints[mode].delete) {
      it(`${mode} delete, images killed at ${point}`, async () => {
        const author = await newAuthor();
        const tag = `t${counter}`;
        // Armed from the start: no upload step reaches a delete failpoint.
        await cluster.start('images', [`${mode}.delete.${point}`], mode);
        const { imageId } = await retried(author, randomUUID(), tag);
        await expect(cluster.images.Delete({ imageId, callerId: author.authorId }, { timeoutMs: 20_000 })).rejects.toThrow();
        expect(await cluster.exited('images')).toContain(`failpoint ${mode}.delete.${point}: SIGKILL`);
        await cluster.start('images', [], mode);

        const recovered = await settledConsistency(cluster.databases);
        expectConsistent(recovered);
        const gone = forward[mode].delete.includes(point);
        expect(recovered.imagesByAuthor[author.authorId] ?? 0).toBe(gone ? 0 : 1);
        if (!gone) await waitFor('the retried delete', () => cluster.images.Delete({ imageId, callerId: author.authorId }).catch(() => undefined), { timeoutMs: 20_000, intervalMs: 250 });

        const final = await settledConsistency(cluster.databases);
        expectConsistent(final);
        expect(final.imagesByAuthor[author.authorId]).toBeUndefined();
        expect(final.quotaByUser[author.authorId]).toBeUndefined();
        await expect(cluster.images.GetInfo({ imageId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });
    }
  }

  for (const point of participantFailpoints) {
    const participant = point.startsWith('users') ? 'users' : 'recommendations';
    it(`2pc upload, ${participant} killed between PREPARE TRANSACTION and its answer`, async () => {
      const author = await newAuthor();
      const key = randomUUID();
      const tag = `t${counter}`;
      await cluster.start('images', [], '2pc');
      await cluster.start(participant, [point]);
      await expect(upload(author, key, tag)).rejects.toThrow();
      expect(await cluster.exited(participant)).toContain(`failpoint ${point}: SIGKILL`);
      // Its prepared transaction outlives it, holding its locks, until it is resolved.
      expect((await readConsistency(cluster.databases)).prepared[participant]).toBe(1);
      await cluster.start(participant);

      const recovered = await settledConsistency(cluster.databases);
      expectConsistent(recovered);
      expect(recovered.imagesByAuthor[author.authorId]).toBeUndefined();

      const { imageId } = await retried(author, key, tag);
      await expectExactlyOne(author, imageId, tag);
    });
  }
});
