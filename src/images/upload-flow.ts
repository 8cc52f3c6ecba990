import { createHash, randomBytes } from 'node:crypto';
import type { RpcClient, RpcCallOptions } from '../platform/rpc/client.js';
import type { UsersContract } from '../contracts/users.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { Logger } from '../platform/log.js';
import { AppError, isAppError } from '../platform/errors.js';
import { inspectImage, type ImageLimits } from './image-inspection.js';
import { validateImageText } from './image-metadata.js';
import { makeVariants, sha256Hex, type StoredVariant } from './variants.js';
import type { ImagesRepository, NewImage } from './images.repository.js';

// The upload transaction, in one place: it touches users (one unit of quota), this service
// (the bytes) and recommendations (the tag index). This version reserves, stores, indexes, and
// on any failure after the reservation gives the unit back and removes what it stored, with its
// state in memory: a crash between two steps leaves them half done. It stays as the reference
// the benchmark compares with; the cluster runs the saga or two-phase-commit versions
// (upload-transactions.ts), which keep their state in a durable log.

export interface UploadRequest {
  authorId: string;
  authorName: string;
  title?: string;
  description?: string;
  tags?: string[];
  image: Buffer;
}

export interface UploadContext {
  idempotencyKey?: string;
  requestId?: string;
  /** Epoch ms after which the caller no longer waits. */
  deadline?: number;
  log: Logger;
}

export interface UploadFlowDeps {
  repository: ImagesRepository;
  users: Pick<RpcClient<UsersContract['methods']>, 'ReserveUpload' | 'ReleaseUpload'>;
  recommendations: Pick<RpcClient<RecommendationsContract['methods']>, 'IndexImage'>;
  limits: ImageLimits;
  newImageId?: () => string;
}

/** 16 random bytes, base64url: unguessable and URL-safe (22 characters). */
export function newImageId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The quota reservation's id. Derived from the idempotency key when there is one, so concurrent
 * retries of one upload reserve a single unit.
 */
export function uploadIdFor(authorId: string, imageId: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `upload:${imageId}`;
  return `upload-key:${createHash('sha256').update(`${authorId}\n${idempotencyKey}`).digest('base64url')}`;
}

/** QUOTA_EXCEEDED from the users service as the client sees it; any other error unchanged. */
export function asQuotaRefusal(error: unknown): unknown {
  if (isAppError(error) && error.code === 'QUOTA_EXCEEDED') {
    const limit = typeof error.details?.limit === 'number' ? error.details.limit : undefined;
    return new AppError('QUOTA_EXCEEDED', `upload quota exhausted${limit !== undefined ? ` (${limit} images)` : ''}`, { details: error.details, cause: error });
  }
  return error;
}

/** Everything about an upload that needs no other service: limits, type, text, variants. Throws the client's error for a bad one. */
export async function prepareUploadContent(request: UploadRequest, limits: ImageLimits, imageId: string, uploadId: string): Promise<{ image: NewImage; variants: StoredVariant[] }> {
  const inspected = await inspectImage(request.image, limits);
  const text = validateImageText(request);
  const variants = await makeVariants(request.image, inspected, limits);
  return {
    image: {
      id: imageId,
      authorId: request.authorId,
      authorName: request.authorName,
      title: text.title,
      description: text.description,
      tags: text.tags,
      type: inspected.type,
      width: inspected.width,
      height: inspected.height,
      // What is stored: the original without its metadata (variants.ts).
      size: variants[0]?.bytes.length ?? inspected.size,
      sha256: sha256Hex(variants[0]?.bytes ?? request.image),
      uploadId,
    },
    variants,
  };
}

export async function runUpload(deps: UploadFlowDeps, request: UploadRequest, context: UploadContext): Promise<{ imageId: string }> {
  const { repository } = deps;
  const key = context.idempotencyKey;
  if (key !== undefined) {
    const first = await repository.findByIdempotencyKey(request.authorId, key);
    if (first) return { imageId: first };
  }

  // 1. Everything that needs no other service: limits, type, text, variants.
  const imageId = (deps.newImageId ?? newImageId)();
  const uploadId = uploadIdFor(request.authorId, imageId, key);
  const { image, variants } = await prepareUploadContent(request, deps.limits, imageId, uploadId);
  const callOptions = (): RpcCallOptions => ({
    requestId: context.requestId,
    ...(context.deadline !== undefined ? { timeoutMs: Math.max(1, context.deadline - Date.now()) } : {}),
  });

  // 2. One unit of the author's quota.
  try {
    await deps.users.ReserveUpload({ userId: request.authorId, uploadId }, callOptions());
  } catch (error) {
    throw asQuotaRefusal(error);
  }

  // 3. Store, 4. index; any failure from here on undoes what was done.
  let storedImageId: string | undefined;
  try {
    const outcome = await repository.insert(image, variants, key);
    // A concurrent retry with the same key stored it first; its reservation is the same unit.
    if (!outcome.stored) return { imageId: outcome.imageId };
    storedImageId = outcome.imageId;
    await deps.recommendations.IndexImage({ imageId, authorId: request.authorId, tags: image.tags, createdAt: outcome.created }, callOptions());
    return { imageId };
  } catch (error) {
    await compensate(deps, { authorId: request.authorId, uploadId, storedImageId }, context.log);
    throw error;
  }
}

async function compensate(deps: UploadFlowDeps, done: { authorId: string; uploadId: string; storedImageId: string | undefined }, log: Logger): Promise<void> {
  if (done.storedImageId !== undefined) {
    await deps.repository.remove(done.storedImageId).catch((error: unknown) => log.error({ err: error, imageId: done.storedImageId }, 'failed upload: could not remove the stored image'));
  }
  await deps.users.ReleaseUpload({ userId: done.authorId, uploadId: done.uploadId }).catch((error: unknown) =>
    log.error({ err: error, uploadId: done.uploadId }, 'failed upload: could not give the quota unit back'));
}
