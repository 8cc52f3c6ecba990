import { randomUUID } from 'node:crypto';
import type { Sql, TransactionSql } from '../platform/db/database.js';
import type { RpcCallOptions, RpcClient } from '../platform/rpc/client.js';
import type { UsersContract } from '../contracts/users.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { TransactionDecision, UploadTransactionMode } from '../contracts/transactions.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import type { Failpoints } from '../platform/failpoints.js';
import { notFound, unavailable } from '../platform/errors.js';
import { commitPrepared, prepareTransaction, rollbackPrepared, voteDeadline, type PrepareOptions } from '../platform/db/two-phase.js';
import type { ImageLimits } from './image-inspection.js';
import { insertImageRows, type ImageRecord } from './images.repository.js';
import { asQuotaRefusal, newImageId, prepareUploadContent, type UploadContext, type UploadRequest } from './upload-flow.js';
import { StateMoved, transactionLog, type TransactionLog, type TransactionRecord } from './transaction-log.repository.js';
import type { TransactionMetrics } from './transaction-metrics.js';

// Crash-consistent uploads and deletes across users (quota), images (rows and bytes) and
// recommendations (tag index), in two protocols chosen per cluster (UPLOAD_TRANSACTION):
//
// - saga: a durable log row moves started -> quota_reserved -> stored -> indexed -> done, written
//   before each step; the remote steps are idempotent RPCs keyed by the transaction, so running
//   one twice counts once. A failure before "stored" compensates (compensating -> compensated);
//   after it, recovery drives forward. The image is stored invisible and shown at "done".
// - 2pc: this service coordinates; users, images and recommendations each PREPARE TRANSACTION
//   their part, the decision (committing / aborting) is written to the log before phase two,
//   and anyone who finds it unfinished completes it. No decision means abort.
//
// Any images instance recovers transactions left unfinished past a timeout (recoverOnce).
// docs/transactions.md has the diagrams and what each crash leaves behind.

export interface ImageTransactions {
  readonly mode: UploadTransactionMode;
  upload(request: UploadRequest, context: UploadContext): Promise<{ imageId: string }>;
  /** Deletes a visible image the caller owns (the handler checked); the deletion stands once this returns. */
  delete(record: ImageRecord, context: UploadContext): Promise<void>;
  /** The decision on a two-phase transaction, for a participant holding it prepared (presumed abort). */
  decision(txId: string): Promise<TransactionDecision>;
  /** Drives every transaction unfinished for longer than the recovery timeout to its end; returns how many ended. */
  recoverOnce(): Promise<number>;
}

export interface ImageTransactionsDeps {
  mode: UploadTransactionMode;
  sql: Sql;
  /** The pool for this participant's COMMIT / ROLLBACK PREPARED (two-phase.ts phaseTwoDatabase); `sql` when not given. */
  phaseTwo?: Sql;
  users: Pick<RpcClient<UsersContract['methods']>, 'ReserveUpload' | 'ReleaseUpload' | 'PrepareReserveUpload' | 'PrepareReleaseUpload' | 'CommitPrepared' | 'AbortPrepared'>;
  recommendations: Pick<RpcClient<RecommendationsContract['methods']>, 'IndexImage' | 'UnindexImage' | 'PrepareIndexImage' | 'PrepareUnindexImage' | 'CommitPrepared' | 'AbortPrepared'>;
  limits: ImageLimits;
  clock: Clock;
  logger: Logger;
  failpoints: Failpoints;
  metrics: TransactionMetrics;
  /** A transaction untouched for this long is taken over by recovery. */
  recoverAfterMs: number;
}

/** Every failpoint of the images process, by protocol and kind, in the order the flow reaches them. */
export const coordinatorFailpoints = {
  saga: {
    upload: ['before.ReserveUpload', 'after.ReserveUpload', 'before.store', 'before.IndexImage', 'after.IndexImage', 'before.publish'],
    delete: ['before.UnindexImage', 'after.UnindexImage', 'before.ReleaseUpload', 'after.ReleaseUpload'],
  },
  '2pc': {
    upload: ['before.prepare.users', 'after.prepare.users', 'after.prepare.images', 'after.prepare.recommendations', 'after.decision', 'after.commit.images', 'after.commit.users', 'after.commit.recommendations'],
    delete: ['before.prepare.users', 'after.prepare.users', 'after.prepare.images', 'after.prepare.recommendations', 'after.decision', 'after.commit.images', 'after.commit.users', 'after.commit.recommendations'],
  },
} as const;

/** The participants' failpoints: they die between PREPARE TRANSACTION and their answer. */
export const participantFailpoints = ['users.prepared', 'recommendations.prepared'] as const;

const successes = new Set(['done', 'committed']);
const waitForOtherMs = 100;

interface Participant {
  name: 'users' | 'images' | 'recommendations';
  prepare(): Promise<void>;
}

export function imageTransactions(deps: ImageTransactionsDeps): ImageTransactions {
  const { sql, users, recommendations, clock, logger, failpoints, metrics } = deps;
  const phaseTwo = deps.phaseTwo ?? sql;
  const log: TransactionLog = transactionLog(sql);
  const now = () => new Date(clock.now());
  const hit = (protocol: string, kind: string, point: string) => failpoints.hit(`${protocol}.${kind}.${point}`);
  const step = <T>(protocol: string, name: string, work: () => Promise<T>) => metrics.step(protocol, name, work);
  const rpc = (context: UploadContext | undefined): RpcCallOptions => ({
    ...(context?.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(context?.deadline !== undefined ? { timeoutMs: Math.max(1, context.deadline - clock.now()) } : {}),
  });

  // This participant's own vote, by the request's deadline as the others' (two-phase.ts PrepareOptions).
  const voteBy = (context: UploadContext): PrepareOptions => (context.deadline !== undefined ? { deadline: voteDeadline(context.deadline) } : {});

  const finish = (record: TransactionRecord, outcome: string) => {
    metrics.finished(record.protocol, record.kind, outcome, Math.max(0, clock.now() - record.started.getTime()) / 1000);
    return outcome;
  };

  // ---- saga ---------------------------------------------------------------------------------

  /** Saga upload from `record.state` on; `content` only on the live path (recovery has no bytes, so it can only go forward from "stored"). */
  async function sagaUpload(record: TransactionRecord, content: Awaited<ReturnType<typeof prepareUploadContent>> | undefined, context?: UploadContext): Promise<string> {
    const { id, authorId, uploadId, imageId } = record;
    let state = record.state;
    try {
      if (state === 'started' || state === 'quota_reserved') {
        if (!content) return await sagaCompensate(record);
        if (state === 'started') {
          hit('saga', 'upload', 'before.ReserveUpload');
          await step('saga', 'reserve', () => users.ReserveUpload({ userId: authorId, uploadId }, rpc(context)));
          hit('saga', 'upload', 'after.ReserveUpload');
          if (!(await log.advance(id, ['started'], 'quota_reserved', now()))) return await settled(id);
          state = 'quota_reserved';
        }
        hit('saga', 'upload', 'before.store');
        const stored = await step('saga', 'store', () => log.advance(id, ['quota_reserved'], 'stored', now(), {}, async (tx) => {
          await insertImageRows(tx, content.image, content.variants, false);
        }));
        if (!stored) return await settled(id);
        state = 'stored';
      }
      if (state === 'stored') {
        const image = await log.storedImage(imageId);
        if (!image) throw new Error(`saga ${id}: stored image ${imageId} is missing`);
        hit('saga', 'upload', 'before.IndexImage');
        await step('saga', 'index', () => recommendations.IndexImage({ imageId, authorId, tags: image.tags, createdAt: image.created }, rpc(context)));
        hit('saga', 'upload', 'after.IndexImage');
        if (!(await log.advance(id, ['stored'], 'indexed', now()))) return await settled(id);
        state = 'indexed';
      }
      if (state === 'indexed') {
        hit('saga', 'upload', 'before.publish');
        const published = await step('saga', 'publish', () => log.advance(id, ['indexed'], 'done', now(), { finish: 'done' }, async (tx) => {
          await tx`update images set visible = true where id = ${imageId}`;
        }));
        return published ? finish(record, 'done') : await settled(id);
      }
      if (state === 'compensating') return await sagaCompensate(record);
      return state;
    } catch (error) {
      // Live: the caller hears the failure and everything done so far is undone. Recovery
      // going forward from "stored" keeps trying on its next round instead.
      if (content) {
        await sagaCompensate(record).catch((undo: unknown) => logger.error({ err: undo, txId: id }, 'saga: compensation failed; recovery will finish it'));
      }
      throw error;
    }
  }

  /** Undoes a saga upload: gives the unit back, unindexes and removes the image if it was stored; each step idempotent and final. */
  async function sagaCompensate(record: TransactionRecord): Promise<string> {
    const { id, authorId, uploadId, imageId } = record;
    if (record.state !== 'compensating' && !(await log.advance(id, ['started', 'quota_reserved', 'stored'], 'compensating', now(), { clearKey: true }))) {
      const current = await log.get(id);
      if (current?.state !== 'compensating') return current?.state ?? 'missing';
    }
    // The unit first: it is what the author notices, and it needs only the users service.
    await step('saga', 'release', () => users.ReleaseUpload({ userId: authorId, uploadId, final: true }));
    // The (invisible) image rows stay until the index is sure to be clean: they say whether to unindex.
    if (await log.storedImage(imageId)) {
      await step('saga', 'unindex', () => recommendations.UnindexImage({ imageId }));
      await step('saga', 'remove', () => sql`delete from images where id = ${imageId} and not visible`);
    }
    return (await log.advance(id, ['compensating'], 'compensated', now(), { finish: 'compensated' })) ? finish(record, 'compensated') : 'compensated';
  }

  /** Saga delete from `record.state` on: hidden -> unindexed -> removed -> done; only ever forward. */
  async function sagaDelete(record: TransactionRecord): Promise<string> {
    const { id, authorId, uploadId, imageId } = record;
    let state = record.state;
    if (state === 'started') {
      hit('saga', 'delete', 'before.UnindexImage');
      await step('saga', 'unindex', () => recommendations.UnindexImage({ imageId }));
      hit('saga', 'delete', 'after.UnindexImage');
      if (!(await log.advance(id, ['started'], 'unindexed', now()))) return await settled(id);
      state = 'unindexed';
    }
    if (state === 'unindexed') {
      const removed = await step('saga', 'remove', () => log.advance(id, ['unindexed'], 'removed', now(), {}, (tx) => removeImageRows(tx, imageId)));
      if (!removed) return await settled(id);
      state = 'removed';
    }
    if (state === 'removed') {
      hit('saga', 'delete', 'before.ReleaseUpload');
      await step('saga', 'release', () => users.ReleaseUpload({ userId: authorId, uploadId, final: true }));
      hit('saga', 'delete', 'after.ReleaseUpload');
      return (await log.advance(id, ['removed'], 'done', now(), { finish: 'done' })) ? finish(record, 'done') : await settled(id);
    }
    return state;
  }

  // ---- two-phase commit ---------------------------------------------------------------------

  /** Phase one, live only: every participant prepares, then the decision. Returns the decision taken. */
  async function prepareAll(record: TransactionRecord, participants: readonly Participant[]): Promise<'committing' | 'aborting'> {
    const { kind } = record;
    try {
      for (const participant of participants) {
        if (participant.name === 'users') hit('2pc', kind, 'before.prepare.users');
        await step('2pc', `prepare.${participant.name}`, () => participant.prepare());
        hit('2pc', kind, `after.prepare.${participant.name}`);
      }
    } catch (error) {
      await decideAndFinish(record, 'aborting').catch((undo: unknown) => logger.error({ err: undo, txId: record.id }, '2pc: abort unfinished; recovery will finish it'));
      throw error;
    }
    // The decision is durable before anyone is told: from here on the outcome is fixed.
    const committed = await step('2pc', 'decision', () => log.advance(record.id, ['preparing'], 'committing', now()));
    if (!committed) {
      // Recovery (or a participant's question) aborted it meanwhile: presumed abort won.
      await decideAndFinish(record, 'aborting').catch(() => undefined);
      throw unavailable('the transaction was aborted; try again', { retryAfterSeconds: 1 });
    }
    hit('2pc', kind, 'after.decision');
    return 'committing';
  }

  /** Takes `decision` if still undecided, then runs phase two as decided. Returns the final state. */
  async function decideAndFinish(record: TransactionRecord, wanted: 'committing' | 'aborting'): Promise<string> {
    const { id, kind } = record;
    if (record.state === 'preparing') {
      if (!(await log.advance(id, ['preparing'], wanted, now(), wanted === 'aborting' ? { clearKey: true } : {}))) {
        const current = await log.get(id);
        if (!current) return 'missing';
        // Aborted by recovery (or a participant's question) while its coordinator was still
        // preparing: what that coordinator prepared since is rolled back now, not left holding
        // its locks until a resolver asks about it.
        if (current.finished && !(wanted === 'aborting' && current.state === 'aborted')) return current.state;
        record = current;
      } else {
        record = { ...record, state: wanted };
      }
    }
    const decided = record.state;
    const alreadyAborted = decided === 'aborted';
    if (decided !== 'committing' && decided !== 'aborting' && !alreadyAborted) return decided;
    const commit = decided === 'committing';
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['images', () => (commit ? commitPrepared(phaseTwo, 'images', id) : rollbackPrepared(phaseTwo, 'images', id))],
      ['users', () => (commit ? users.CommitPrepared({ txId: id }) : users.AbortPrepared({ txId: id }))],
      ['recommendations', () => (commit ? recommendations.CommitPrepared({ txId: id }) : recommendations.AbortPrepared({ txId: id }))],
    ];
    let failure: unknown;
    for (const [name, run] of calls) {
      try {
        await step('2pc', `${commit ? 'commit' : 'abort'}.${name}`, run);
        if (commit) hit('2pc', kind, `after.commit.${name}`);
      } catch (error) {
        // The others are told anyway; whoever is missing is told again by recovery (or asks).
        failure ??= error;
      }
    }
    if (failure) throw failure;
    if (alreadyAborted) return 'aborted';
    const outcome = commit ? 'committed' : 'aborted';
    return (await log.advance(id, [decided], outcome, now(), { finish: outcome })) ? finish(record, outcome) : outcome;
  }

  function uploadParticipants(record: TransactionRecord, content: Awaited<ReturnType<typeof prepareUploadContent>>, context: UploadContext): Participant[] {
    let created: string | undefined;
    return [
      { name: 'users', prepare: async () => void (await users.PrepareReserveUpload({ txId: record.id, userId: record.authorId, uploadId: record.uploadId }, rpc(context))) },
      {
        name: 'images',
        prepare: () => prepareTransaction(sql, 'images', record.id, async (tx) => {
          created = await insertImageRows(tx, content.image, content.variants, true);
        }, voteBy(context)),
      },
      {
        name: 'recommendations',
        prepare: async () => void (await recommendations.PrepareIndexImage(
          { txId: record.id, imageId: record.imageId, authorId: record.authorId, tags: content.image.tags, createdAt: created ?? now().toISOString() }, rpc(context))),
      },
    ];
  }

  function deleteParticipants(record: TransactionRecord, context: UploadContext): Participant[] {
    return [
      { name: 'users', prepare: async () => void (await users.PrepareReleaseUpload({ txId: record.id, userId: record.authorId, uploadId: record.uploadId }, rpc(context))) },
      { name: 'images', prepare: () => prepareTransaction(sql, 'images', record.id, (tx) => removeImageRows(tx, record.imageId), voteBy(context)) },
      { name: 'recommendations', prepare: async () => void (await recommendations.PrepareUnindexImage({ txId: record.id, imageId: record.imageId }, rpc(context))) },
    ];
  }

  // ---- shared -------------------------------------------------------------------------------

  async function removeImageRows(tx: TransactionSql, imageId: string): Promise<void> {
    await tx`delete from images where id = ${imageId}`;
    // The upload's idempotency key goes too: a retried upload after a delete is a new upload.
    await tx`update upload_transactions set idempotency_key = null where image_id = ${imageId} and kind = 'upload' and idempotency_key is not null`;
    await tx`delete from upload_idempotency where image_id = ${imageId}`;
  }

  /** The state another driver left it in (for a driver that lost a race). */
  async function settled(id: string): Promise<string> {
    return (await log.get(id))?.state ?? 'missing';
  }

  /** Waits for the transaction holding an idempotency key to end; its image id when it succeeded. */
  async function outcomeOf(existing: TransactionRecord, context: UploadContext): Promise<string | undefined> {
    let current: TransactionRecord | undefined = existing;
    const deadline = context.deadline ?? clock.now() + 10_000;
    while (current && !current.finished) {
      if (clock.now() + waitForOtherMs >= deadline) throw unavailable('an upload with this idempotency key is still in progress', { retryAfterSeconds: 1 });
      await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), waitForOtherMs));
      current = await log.get(existing.id);
    }
    return current && successes.has(current.state) ? current.imageId : undefined;
  }

  /** Drives one transaction found unfinished; the final (or current) state. */
  async function drive(record: TransactionRecord): Promise<string> {
    if (record.protocol === 'saga') return record.kind === 'upload' ? sagaUpload(record, undefined) : sagaDelete(record);
    // Undecided after the timeout: presumed abort. Decided: finish as decided.
    return decideAndFinish(record, 'aborting');
  }

  async function tracked<T>(protocol: string, kind: string, work: () => Promise<T>): Promise<T> {
    metrics.inFlight(protocol, kind, 1);
    try {
      return await work();
    } finally {
      metrics.inFlight(protocol, kind, -1);
    }
  }

  return {
    mode: deps.mode,

    async upload(request, context) {
      const mode = deps.mode;
      const imageId = newImageId();
      const id = randomUUID();
      const uploadId = `${mode}:${id}`;
      // A bad image is refused before anything is written anywhere.
      const content = await prepareUploadContent(request, deps.limits, imageId, uploadId);
      for (let attempt = 0; ; attempt++) {
        let begun: Awaited<ReturnType<TransactionLog['begin']>>;
        try {
          begun = await log.begin({
            id, protocol: mode, kind: 'upload', state: mode === 'saga' ? 'started' : 'preparing',
            authorId: request.authorId, idempotencyKey: context.idempotencyKey, imageId, uploadId,
          }, now());
        } catch (error) {
          if (error instanceof StateMoved && attempt < 3) continue;
          throw error;
        }
        if (begun.started) break;
        const firstImage = await outcomeOf(begun.existing, context);
        if (firstImage !== undefined) return { imageId: firstImage };
        if (attempt >= 3) throw unavailable('an upload with this idempotency key keeps failing; try again', { retryAfterSeconds: 1 });
      }
      const record: TransactionRecord = {
        id, protocol: mode, kind: 'upload', state: mode === 'saga' ? 'started' : 'preparing', authorId: request.authorId,
        idempotencyKey: context.idempotencyKey ?? null, imageId, uploadId, started: now(), updated: now(), finished: null, outcome: null,
      };
      return tracked(mode, 'upload', async () => {
        try {
          if (mode === 'saga') {
            const state = await sagaUpload(record, content, context);
            if (state !== 'done') throw unavailable('the upload did not complete; try again', { retryAfterSeconds: 1 });
          } else {
            await prepareAll(record, uploadParticipants(record, content, context));
            // Decided: the upload happened. A participant not told yet is told by recovery.
            await decideAndFinish({ ...record, state: 'committing' }, 'committing').catch((error: unknown) =>
              context.log.warn({ err: error, txId: id }, '2pc: commit of a participant pending; recovery will finish it'));
          }
        } catch (error) {
          throw asQuotaRefusal(error);
        }
        return { imageId };
      });
    },

    async delete(image, context) {
      const mode = deps.mode;
      const id = randomUUID();
      const record: TransactionRecord = {
        id, protocol: mode, kind: 'delete', state: mode === 'saga' ? 'started' : 'preparing', authorId: image.authorId,
        idempotencyKey: null, imageId: image.imageId, uploadId: image.uploadId, started: now(), updated: now(), finished: null, outcome: null,
      };
      try {
        await log.begin({ ...record, idempotencyKey: undefined }, now(), mode === 'saga'
          ? async (tx) => {
            // The deletion takes effect here: from now on no read answers with the image.
            const hidden = await tx`update images set visible = false where id = ${image.imageId} and visible returning id`;
            if (hidden.length === 0) throw notFound('image not found');
          }
          : undefined);
      } catch (error) {
        // One delete at a time per image: a second one finds it already going.
        if ((error as { code?: string }).code === '23505') return;
        throw error;
      }
      await tracked(mode, 'delete', async () => {
        if (mode === 'saga') {
          await sagaDelete(record).catch((error: unknown) => context.log.warn({ err: error, txId: id }, 'saga: delete step failed; recovery will finish it'));
          return;
        }
        await prepareAll(record, deleteParticipants(record, context));
        await decideAndFinish({ ...record, state: 'committing' }, 'committing').catch((error: unknown) =>
          context.log.warn({ err: error, txId: id }, '2pc: commit of a participant pending; recovery will finish it'));
      });
    },

    async decision(txId) {
      for (;;) {
        const record = await log.get(txId);
        if (!record || record.protocol !== '2pc') return 'abort';
        if (record.state === 'committing' || record.state === 'committed') return 'commit';
        if (record.state !== 'preparing') return 'abort';
        // Undecided: the coordinator may still be preparing. Past the timeout, presume it died.
        if (record.updated.getTime() > clock.now() - deps.recoverAfterMs) return 'pending';
        if (await log.advance(txId, ['preparing'], 'aborting', now(), { clearKey: true })) return 'abort';
      }
    },

    async recoverOnce() {
      const stuck = await log.claimStuck(new Date(clock.now() - deps.recoverAfterMs), now(), 20);
      let ended = 0;
      for (const record of stuck) {
        try {
          const state = await drive(record);
          if (['done', 'compensated', 'committed', 'aborted'].includes(state)) {
            ended++;
            metrics.recovered(record.protocol, record.kind, state);
            logger.warn({ txId: record.id, protocol: record.protocol, kind: record.kind, from: record.state, to: state }, 'recovered an unfinished transaction');
          }
        } catch (error) {
          logger.warn({ err: error, txId: record.id, protocol: record.protocol, state: record.state }, 'recovery: transaction not finished yet; will try again');
        }
      }
      return ended;
    },
  };
}

/** Runs recoverOnce every `intervalMs` until stopped. */
export function startRecovery(transactions: ImageTransactions, settings: { intervalMs: number; clock: Clock; logger: Logger }): { stop(): void } {
  let stopped = false;
  let timer: unknown;
  const schedule = () => {
    if (stopped) return;
    timer = settings.clock.setTimeout(() => {
      transactions.recoverOnce().catch((error: unknown) => settings.logger.warn({ err: error }, 'recovery round failed')).finally(schedule);
    }, settings.intervalMs);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      settings.clock.clearTimeout(timer);
    },
  };
}
