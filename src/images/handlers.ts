import type { ImagesContract, ImageInfo } from '../contracts/images.js';
import type { UsersContract } from '../contracts/users.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { RpcContext, RpcHandlers } from '../platform/rpc/server.js';
import { forbidden, notFound } from '../platform/errors.js';
import { acceptedTypes, type ImageLimits } from './image-inspection.js';
import { metadataLimits, validateModification } from './image-metadata.js';
import { normaliseTag } from '../contracts/tags.js';
import type { ImageRecord, ImagesRepository } from './images.repository.js';
import { decodeCursor, encodeCursor } from './list-cursor.js';
import { runUpload } from './upload-flow.js';
import type { ImageTransactions } from './upload-transactions.js';

// The images service's RPC methods. Handlers stay thin: the upload lives in upload-flow.ts,
// checks in image-inspection.ts and image-metadata.ts, SQL in images.repository.ts.

export interface ImagesServiceDeps {
  repository: ImagesRepository;
  users: RpcClient<UsersContract['methods']>;
  recommendations: RpcClient<RecommendationsContract['methods']>;
  limits: ImageLimits;
  /** Crash-consistent upload and delete (saga or 2PC); without it, the in-memory flow of upload-flow.ts (benchmark reference). */
  transactions?: ImageTransactions;
}

const defaultPageSize = 20;

function info(record: ImageRecord): ImageInfo {
  const { uploadId: _uploadId, ...rest } = record;
  return rest;
}

const sameTags = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((tag) => b.includes(tag));

const imageNotFound = () => notFound('image not found');

const downstream = (context: RpcContext) => ({ requestId: context.requestId, timeoutMs: Math.max(1, context.deadline - Date.now()) });

export function imagesHandlers(deps: ImagesServiceDeps): RpcHandlers<ImagesContract['methods']> {
  const { repository } = deps;

  const findOwned = async (imageId: string, callerId: string) => {
    const record = await repository.find(imageId);
    if (!record) throw imageNotFound();
    if (record.authorId !== callerId) throw forbidden('only the author may change this image');
    return record;
  };

  return {
    Upload: async (input, context) => {
      const uploadContext = { idempotencyKey: context.idempotencyKey, requestId: context.requestId, deadline: context.deadline, log: context.log };
      return deps.transactions ? deps.transactions.upload(input, uploadContext) : runUpload(deps, input, uploadContext);
    },

    GetInfo: async ({ imageId }) => {
      const record = await repository.find(imageId);
      if (!record) throw imageNotFound();
      return info(record);
    },

    Get: async ({ imageId }) => {
      const found = await repository.findWithOriginal(imageId);
      if (!found) throw imageNotFound();
      const { contentType, etag, bytes, ...record } = found;
      return { ...info(record), contentType, etag, image: bytes };
    },

    GetVariant: async ({ imageId, variant, ifNoneMatch }) => {
      const stored = await repository.variant(imageId, variant, ifNoneMatch);
      if (!stored) throw imageNotFound();
      if (stored.bytes === null) return { contentType: stored.contentType, etag: stored.etag, notModified: true, image: Buffer.alloc(0) };
      return { contentType: stored.contentType, etag: stored.etag, image: stored.bytes };
    },

    Modify: async ({ imageId, callerId, title, description, tags }, context) => {
      const changes = validateModification({ title, description, tags });
      const record = await findOwned(imageId, callerId);
      // The tag index first, as for Delete: if it fails nothing changed here and a retry does it all.
      if (changes.tags && !sameTags(changes.tags, record.tags)) {
        await deps.recommendations.RetagImage({ imageId, tags: changes.tags }, downstream(context));
      }
      const updated = await repository.updateText(imageId, changes);
      if (!updated) throw imageNotFound();
      return info(updated);
    },

    Delete: async ({ imageId, callerId }, context) => {
      const record = await findOwned(imageId, callerId);
      if (deps.transactions) {
        await deps.transactions.delete(record, { requestId: context.requestId, deadline: context.deadline, log: context.log });
        return {};
      }
      // Unindex first: if it fails nothing is deleted and the caller can simply retry.
      await deps.recommendations.UnindexImage({ imageId }, downstream(context));
      await repository.remove(imageId);
      await deps.users.ReleaseUpload({ userId: record.authorId, uploadId: record.uploadId }, downstream(context)).catch((error: unknown) =>
        context.log.error({ err: error, imageId, uploadId: record.uploadId }, 'deleted image: could not give the quota unit back'));
      return {};
    },

    TransactionOutcome: async ({ txId }) => {
      if (!deps.transactions) return { decision: 'abort' as const };
      return { decision: await deps.transactions.decision(txId) };
    },

    List: async ({ author, tag, cursor, limit }) => {
      const pageSize = limit ?? defaultPageSize;
      // One extra row tells whether there is a next page.
      const rows = await repository.list({
        authorName: author || undefined,
        tag: tag ? normaliseTag(tag) : undefined,
        after: cursor ? decodeCursor(cursor) : undefined,
        limit: pageSize + 1,
      });
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      return {
        images: page.map(info),
        nextCursor: rows.length > pageSize && last ? encodeCursor({ created: last.created, id: last.imageId }) : null,
      };
    },

    CountByAuthor: async ({ authorName }) => ({ count: await repository.countByAuthor(authorName) }),

    GetInfos: async ({ imageIds }) => ({ images: (await repository.findMany(imageIds)).map(info) }),

    Limits: async () => ({
      maxBytes: deps.limits.maxBytes,
      maxPixels: deps.limits.maxPixels,
      types: [...acceptedTypes],
      maxTags: metadataLimits.maxTags,
      maxTitle: metadataLimits.maxTitle,
      maxDescription: metadataLimits.maxDescription,
    }),
  };
}
