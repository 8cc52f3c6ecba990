import { z } from 'zod';
import { bytes, defineService } from '../platform/rpc/contract.js';
import { limits, patterns } from './limits.js';

// The images service: image bytes, variants and metadata; it coordinates the upload transaction.

export const imageInfo = z.object({
  imageId: z.string(),
  author: z.string(),
  authorId: z.string(),
  title: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  type: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  size: z.number().int(),
  sha256: z.string(),
  created: z.string(),
});
export type ImageInfo = z.infer<typeof imageInfo>;

/** Image ids are 16 random bytes in base64url: 22 characters. Callers check the format before calling. */
export const imageIdPattern = new RegExp(patterns.imageId.source);

export const imageVariant = z.enum(['original', 'medium', 'thumb']);
export type ImageVariant = z.infer<typeof imageVariant>;

export const imagesContract = defineService('Images', 'IMAGE SERVICE', {
  /** Stores an image; carries an idempotency key so a retried upload is stored once. */
  Upload: {
    input: z.object({
      authorId: z.string(),
      authorName: z.string(),
      title: z.string().optional(),
      description: z.string().optional(),
      tags: z.array(z.string()).optional(),
      image: bytes(),
    }),
    output: z.object({ imageId: z.string() }),
    idempotent: false,
    bytesIn: 'image',
  },
  GetInfo: {
    input: z.object({ imageId: z.string() }),
    output: imageInfo,
    idempotent: true,
  },
  /** The original bytes with the metadata, in one call (GET /{imgID}). */
  Get: {
    input: z.object({ imageId: z.string() }),
    output: imageInfo.extend({ contentType: z.string(), etag: z.string(), image: bytes() }),
    idempotent: true,
    bytesOut: 'image',
  },
  /**
   * Bytes of one variant with what HTTP caching needs. With `ifNoneMatch` equal to the current
   * etag the bytes are not sent: `notModified` is true and `image` is empty.
   */
  GetVariant: {
    input: z.object({ imageId: z.string(), variant: imageVariant, ifNoneMatch: z.string().optional() }),
    output: z.object({ contentType: z.string(), etag: z.string(), notModified: z.boolean().optional(), image: bytes() }),
    idempotent: true,
    bytesOut: 'image',
  },
  /** Changes the text an author gave: any of title, description and tags (tags replace the old ones). */
  Modify: {
    input: z.object({ imageId: z.string(), callerId: z.string(), title: z.string().optional(), description: z.string().optional(), tags: z.array(z.string()).optional() }),
    output: imageInfo,
    idempotent: true,
  },
  Delete: {
    input: z.object({ imageId: z.string(), callerId: z.string() }),
    output: z.object({}),
    idempotent: true,
  },
  List: {
    input: z.object({ author: z.string().optional(), tag: z.string().optional(), cursor: z.string().max(limits.cursorLength).optional(), limit: z.number().int().min(1).max(limits.page.images).optional() }),
    output: z.object({ images: z.array(imageInfo), nextCursor: z.string().nullable() }),
    idempotent: true,
  },
  /** Several images' metadata at once (recommendations, listings). Unknown ids are left out. */
  GetInfos: {
    input: z.object({ imageIds: z.array(z.string()).max(limits.page.batch) }),
    output: z.object({ images: z.array(imageInfo) }),
    idempotent: true,
  },
  /** How many images an author has (GET /me). */
  CountByAuthor: {
    input: z.object({ authorName: z.string() }),
    output: z.object({ count: z.number().int() }),
    idempotent: true,
  },
  /**
   * The coordinator's decision on two-phase transaction `txId`, for a participant holding it
   * prepared: commit, abort (also when there is no record: presumed abort), or pending.
   */
  TransactionOutcome: {
    input: z.object({ txId: z.uuid() }),
    output: z.object({ decision: z.enum(['commit', 'abort', 'pending']) }),
    idempotent: true,
  },
  Limits: {
    input: z.object({}),
    output: z.object({ maxBytes: z.number().int(), maxPixels: z.number().int(), types: z.array(z.string()), maxTags: z.number().int(), maxTitle: z.number().int(), maxDescription: z.number().int() }),
    idempotent: true,
  },
});

export type ImagesContract = typeof imagesContract;
