import { z } from 'zod';
import { bytes, defineService } from '../platform/rpc/contract.js';
import { limits, patterns, wireLimits } from './limits.js';

// The images service: image bytes, variants and metadata; it coordinates the upload transaction.

const id = () => z.string().max(wireLimits.id);
const shortText = () => z.string().max(wireLimits.shortText);
/** Tags as a caller sends them: bounded in number before anything is done with them. */
const rawTags = () => z.array(z.string().max(wireLimits.rawTag)).max(limits.image.tags);

export const imageInfo = z.object({
  imageId: id(),
  author: shortText(),
  authorId: id(),
  title: z.string().max(wireLimits.title),
  description: z.string().max(wireLimits.description),
  tags: z.array(shortText()).max(limits.image.tags),
  type: shortText(),
  width: z.number().int(),
  height: z.number().int(),
  size: z.number().int(),
  sha256: shortText(),
  created: shortText(),
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
      authorId: id(),
      authorName: z.string().max(wireLimits.name),
      title: z.string().max(wireLimits.title).optional(),
      description: z.string().max(wireLimits.description).optional(),
      tags: rawTags().optional(),
      image: bytes(),
    }),
    output: z.object({ imageId: id() }),
    idempotent: false,
    bytesIn: 'image',
  },
  GetInfo: {
    input: z.object({ imageId: id() }),
    output: imageInfo,
    idempotent: true,
  },
  /** The original bytes with the metadata, in one call (GET /{imgID}). */
  Get: {
    input: z.object({ imageId: id() }),
    output: imageInfo.extend({ contentType: shortText(), etag: shortText(), image: bytes() }),
    idempotent: true,
    bytesOut: 'image',
  },
  /**
   * Bytes of one variant with what HTTP caching needs. With `ifNoneMatch` equal to the current
   * etag the bytes are not sent: `notModified` is true and `image` is empty.
   */
  GetVariant: {
    input: z.object({ imageId: id(), variant: imageVariant, ifNoneMatch: z.string().max(wireLimits.etag).optional() }),
    output: z.object({ contentType: shortText(), etag: shortText(), notModified: z.boolean().optional(), image: bytes() }),
    idempotent: true,
    bytesOut: 'image',
  },
  /** Changes the text an author gave: any of title, description and tags (tags replace the old ones). */
  Modify: {
    input: z.object({
      imageId: id(), callerId: id(),
      title: z.string().max(wireLimits.title).optional(), description: z.string().max(wireLimits.description).optional(), tags: rawTags().optional(),
    }),
    output: imageInfo,
    idempotent: true,
  },
  Delete: {
    input: z.object({ imageId: id(), callerId: id() }),
    output: z.object({}),
    idempotent: true,
  },
  List: {
    input: z.object({ author: z.string().max(wireLimits.name).optional(), tag: z.string().max(wireLimits.rawTag).optional(), cursor: z.string().max(limits.cursorLength).optional(), limit: z.number().int().min(1).max(limits.page.images).optional() }),
    output: z.object({ images: z.array(imageInfo).max(limits.page.images), nextCursor: z.string().max(limits.cursorLength).nullable() }),
    idempotent: true,
  },
  /** Several images' metadata at once (recommendations, listings). Unknown ids are left out. */
  GetInfos: {
    input: z.object({ imageIds: z.array(id()).max(limits.page.batch) }),
    output: z.object({ images: z.array(imageInfo).max(limits.page.batch) }),
    idempotent: true,
  },
  /** How many images an author has (GET /me). */
  CountByAuthor: {
    input: z.object({ authorName: z.string().max(wireLimits.name) }),
    output: z.object({ count: z.number().int() }),
    idempotent: true,
  },
  /**
   * The coordinator's decision on two-phase transaction `txId`, for a participant holding it
   * prepared: commit, abort (also when there is no record: presumed abort), or pending.
   */
  TransactionOutcome: {
    input: z.object({ txId: z.uuid().max(36) }),
    output: z.object({ decision: z.enum(['commit', 'abort', 'pending']) }),
    idempotent: true,
  },
  Limits: {
    input: z.object({}),
    output: z.object({ maxBytes: z.number().int(), maxPixels: z.number().int(), types: z.array(shortText()).max(16), maxTags: z.number().int(), maxTitle: z.number().int(), maxDescription: z.number().int() }),
    idempotent: true,
  },
});

export type ImagesContract = typeof imagesContract;
