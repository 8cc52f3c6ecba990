import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { ImageVariant } from '../../contracts/images.js';
import { limits, patterns } from '../../contracts/limits.js';
import { normaliseTags } from '../../contracts/tags.js';
import { AppError, invalidArgument } from '../../platform/errors.js';
import type { GatewayDeps } from '../deps.js';
import { createImageCache } from '../image-cache.js';
import { createViewBatcher, type ViewBatcher } from '../view-batcher.js';
import { likeCounts, publicImage } from '../public-image.js';
import { uploadRateLimit } from '../rate-limit.js';
import {
  base64Image, failures, imageNotFoundOnBadId, imageParams, optionalBody, orNull, patternField, publicImage as publicImageSchema,
  success, successBody, tagsField, textField, tokenField,
} from '../schemas.js';

// Public images endpoints. The original contract's shapes (docs/departures.md) where it has them (POST /img, GET /{imgID},
// PATCH and DELETE /{imgID}); additive endpoints for metadata, bytes and listings.

/** Used until the images service has told us its limit (and if it cannot be asked). */
const defaultMaxImageBytes = 10 * 1024 * 1024;
const limitsTtlMs = 60_000;
const variantPaths: Record<string, ImageVariant> = { raw: 'original', medium: 'medium', thumb: 'thumb' };
const variantTypes = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
// Image bytes never change under one ETag, but an image can be deleted: shared caches and browsers
// keep them a few minutes, then ask again (a 304 when nothing changed), so a deleted image does
// not live on in caches for a year.
const imageCacheControl = 'public, max-age=300, must-revalidate';
const sideCallTimeoutMs = 1_000;
// Resizing a large image takes seconds on a busy machine, so an upload try gets longer than the
// transport's default; the idempotency key makes the retry on another replica safe.
const uploadTimeoutMs = 30_000;
const uploadPerTryTimeoutMs = 12_000;

const imageText = {
  title: Type.Optional(textField(limits.image.title)),
  description: Type.Optional(textField(limits.image.description)),
};

const uploadFields = { ...imageText, tags: Type.Optional(tagsField), accessToken: Type.Optional(tokenField) };

/** JSON: the image as base64 in `imageBlob`. */
const jsonUpload = Type.Object({
  imageBlob: patternField(base64Image, { description: `${base64Image.meaning}; the request body may be up to 16 MiB` }),
  ...uploadFields,
}, { additionalProperties: false });

/** A file part of a form; the route checks it is one. */
const fileField = Type.Unsafe<Buffer>({ contentMediaType: 'application/octet-stream', description: 'the image file' });

/** A form: the image as a file field `image` (or `imageBlob`), the rest as text fields; tags repeated or comma-separated. */
const formUpload = Type.Object({ image: Type.Optional(fileField), imageBlob: Type.Optional(fileField), ...uploadFields }, { additionalProperties: false });

type UploadBody = Static<typeof jsonUpload> | Static<typeof formUpload>;

const listQuery = Type.Object({
  author: Type.Optional(Type.String({ maxLength: limits.account.nameMax })),
  tag: Type.Optional(Type.String({ maxLength: limits.image.tagLength })),
  cursor: Type.Optional(patternField(patterns.cursor, { maxLength: limits.cursorLength })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.page.images })),
});

const imageLimits = Type.Object({
  maxBytes: Type.Integer(), maxPixels: Type.Integer(), types: Type.Array(Type.String()),
  maxTags: Type.Integer(), maxTitle: Type.Integer(), maxDescription: Type.Integer(),
});

const imageBlobBody = Type.Object({
  imageBlob: Type.String({ contentEncoding: 'base64', description: 'the original bytes' }),
  author: Type.String(), title: Type.String(), description: Type.String(), error: Type.Literal(''),
});

const binary = Type.String({ contentMediaType: 'application/octet-stream' });
const accessTokenBody = optionalBody({ accessToken: Type.Optional(tokenField) });

export const imagesRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const imageLimitsCache = limitsCache(deps);
  const imageCache = deps.imageCache ?? createImageCache(deps.images, deps.sharedState, { ttlSeconds: deps.config.IMAGE_CACHE_TTL_SECONDS });
  const views = deps.views ?? ownViewBatcher(app, deps);

  app.get('/limits', {
    schema: { summary: 'What an upload may be', tags: ['images'], response: { 200: imageLimits, ...failures('failure', {}) } },
  }, async (request) => deps.images.Limits({}, { requestId: request.id }));

  app.get('/images', {
    schema: {
      summary: 'Images, newest first, by author and/or tag, a page at a time',
      tags: ['images'],
      querystring: listQuery,
      response: {
        200: Type.Object({ images: Type.Array(publicImageSchema), nextCursor: orNull(Type.String({ description: 'the next page; null on the last' })) }),
        ...failures('failure', { 400: 'a malformed filter, cursor or limit' }),
      },
    },
  }, async (request) => {
    const { author, tag, cursor, limit } = request.query;
    // An empty parameter is the same as none.
    const page = await deps.images.List({ author: author || undefined, tag: tag || undefined, cursor: cursor || undefined, limit }, { requestId: request.id });
    const likes = await likeCounts(deps, page.images.map((image) => image.imageId), request.id);
    return { images: page.images.map((image) => publicImage(image, likes[image.imageId] ?? 0)), nextCursor: page.nextCursor };
  });

  app.post('/img', {
    schema: {
      summary: 'Upload an image (JSON with base64, or a multipart form)',
      tags: ['images'],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: limits.idempotencyKeyLength, description: 'a retried upload with the same key is stored once' })) }),
      body: { content: { 'application/json': { schema: jsonUpload }, 'multipart/form-data': { schema: formUpload } } },
      response: {
        201: Type.Object({ message: Type.Literal('success'), imageID: patternField(patterns.imageId), error: Type.Literal('') }),
        ...failures('upload', {
          400: 'malformed body: no image, bad base64, a field too long, bad tags',
          401: 'no valid access token',
          409: 'the upload quota is used up',
          413: 'the image is too large (bytes or pixels) or takes too long to decode',
          415: 'not an image type we take',
          429: 'too many uploads; try again after Retry-After',
        }),
      },
    },
    config: { failureShape: 'upload' },
  }, async (request, reply) => {
    // Content-type schemas are not inferred; the schema above has checked this shape.
    const body = request.body as UploadBody | undefined;
    // Only JSON and forms are checked by the schema above; any other type (text/plain parses to a string) is refused here.
    if (!body || typeof body !== 'object') throw invalidArgument('imageBlob is required (base64 in JSON, or a file field "image" in a form)');
    const caller = await request.caller();
    // A form without its file is refused before it counts as an upload.
    const file = request.isMultipart() ? uploadedFile(body) : undefined;
    await uploadRateLimit(deps, caller);
    const maxBytes = await imageLimitsCache.maxBytes();
    const image = file ?? decodeImageBlob((body as Static<typeof jsonUpload>).imageBlob, maxBytes);
    if (image.length === 0) throw invalidArgument('imageBlob is required');
    if (image.length > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `image is larger than ${maxBytes} bytes`);
    const { imageId } = await deps.images.Upload(
      { authorId: caller.userId, authorName: caller.name, title: body.title, description: body.description, tags: tagsOf(body.tags), image },
      { requestId: request.id, idempotencyKey: request.headers['idempotency-key'] ?? randomUUID(), timeoutMs: uploadTimeoutMs, perTryTimeoutMs: uploadPerTryTimeoutMs, actingUser: caller },
    );
    return reply.status(201).send({ message: 'success' as const, imageID: imageId, error: '' as const });
  });

  app.get('/:imgID', {
    schema: {
      summary: 'An image with its words, the bytes in base64 (the original contract)',
      tags: ['images'],
      params: imageParams,
      response: { 200: imageBlobBody, ...failures('imageBlob', { 404: 'no such image' }) },
    },
    schemaErrorFormatter: imageNotFoundOnBadId,
    config: { failureShape: 'imageBlob' },
  }, async (request, reply) => {
    const { imgID: imageId } = request.params;
    // The answer's bytes as built once for this generation of the image (see image-cache.ts);
    // a Buffer is sent as it is, without the serializer (the schema above documents its shape).
    const answer = await imageCache.originalAnswer(imageId, { requestId: request.id });
    recordView(views, request, imageId);
    return reply.header('content-type', 'application/json; charset=utf-8').send(answer as unknown as Static<typeof imageBlobBody>);
  });

  app.get('/:imgID/info', {
    schema: {
      summary: 'An image\'s metadata and likes',
      tags: ['images'],
      params: imageParams,
      response: { 200: publicImageSchema, ...failures('failure', { 404: 'no such image' }) },
    },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request) => {
    const { imgID: imageId } = request.params;
    const info = await deps.images.GetInfo({ imageId }, { requestId: request.id });
    return publicImage(info, (await likeCounts(deps, [imageId], request.id))[imageId] ?? 0);
  });

  for (const [path, variant] of Object.entries(variantPaths)) {
    app.get(`/:imgID/${path}`, {
      schema: {
        summary: variant === 'original' ? 'The original bytes' : `The ${variant} size (WebP)`,
        description: 'Cached for five minutes, then revalidated by ETag; If-None-Match answers 304.',
        tags: ['images'],
        params: imageParams,
        response: {
          200: { description: 'the bytes', content: Object.fromEntries(variantTypes.map((type) => [type, { schema: binary }])) },
          304: { description: 'not modified (If-None-Match named the current ETag); no body' },
          ...failures('failure', { 404: 'no such image' }),
        },
      },
      schemaErrorFormatter: imageNotFoundOnBadId,
    }, async (request, reply) => {
      const { imgID: imageId } = request.params;
      const candidates = ifNoneMatchTags(request.headers['if-none-match']);
      if (candidates.length > 0) {
        // Revalidation is answered from the generation and the entity tag alone, never the bytes.
        const tag = await imageCache.variantTag(imageId, variant);
        if (tag && candidates.includes(tag.etag)) return reply.header('etag', tag.etag).header('cache-control', imageCacheControl).status(304).send();
      }
      const bytes = await imageCache.variant(imageId, variant, { requestId: request.id });
      reply.header('etag', bytes.etag).header('cache-control', imageCacheControl);
      if (candidates.includes(bytes.etag)) return reply.status(304).send();
      // The cached Buffer itself goes to the socket: no copy per request.
      return reply.header('content-type', bytes.contentType).send(bytes.image);
    });
  }

  app.patch('/:imgID', {
    schema: {
      summary: 'Change an image\'s title, description and/or tags (its author only); tags replace the old ones',
      tags: ['images'],
      params: imageParams,
      body: Type.Object({ ...imageText, tags: Type.Optional(tagsField), accessToken: Type.Optional(tokenField) }, { additionalProperties: false }),
      response: {
        200: successBody,
        ...failures('failure', { 400: 'none of title, description and tags, one too long, or a bad tag', 401: 'no valid access token', 403: 'not the author', 404: 'no such image' }),
      },
    },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request) => {
    const caller = await request.caller();
    const { title, description, tags } = request.body;
    await deps.images.Modify(
      { imageId: request.params.imgID, callerId: caller.userId, title, description, ...(tags !== undefined ? { tags: tagsOf(tags) } : {}) },
      { requestId: request.id, actingUser: caller },
    );
    return success;
  });

  app.delete('/:imgID', {
    schema: {
      summary: 'Delete an image (its author only); the quota unit comes back',
      tags: ['images'],
      params: imageParams,
      body: accessTokenBody,
      response: { 200: successBody, ...failures('failure', { 401: 'no valid access token', 403: 'not the author', 404: 'no such image' }) },
    },
    schemaErrorFormatter: imageNotFoundOnBadId,
  }, async (request) => {
    const caller = await request.caller();
    await deps.images.Delete({ imageId: request.params.imgID, callerId: caller.userId }, { requestId: request.id, actingUser: caller });
    return success;
  });
};

/** The file of a form upload, under `image` (or `imageBlob`, as the original names the field). */
function uploadedFile(body: UploadBody): Buffer {
  const form = body as Static<typeof formUpload>;
  const file = form.image ?? form.imageBlob;
  if (!Buffer.isBuffer(file)) throw invalidArgument('a file field "image" is required');
  return file;
}

/**
 * Tags as the images service takes them: one list, comma-separated items split, each once in its
 * normal form, at most `limits.image.tags` (the schema bounds the items, so this is linear).
 */
function tagsOf(tags: string | string[] | undefined): string[] {
  const list = normaliseTags((Array.isArray(tags) ? tags : tags === undefined ? [] : [tags]).flatMap((item) => item.split(',')));
  if (list.length > limits.image.tags) throw invalidArgument(`at most ${limits.image.tags} tags`);
  return list;
}

/**
 * The bytes of a JSON upload. The schema has checked the alphabet and the data: URL form; the
 * length must be a multiple of 4 (a regex cannot say that over megabytes).
 */
function decodeImageBlob(text: string, maxBytes: number): Buffer {
  const data = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  if (data.length % 4 !== 0) throw invalidArgument('imageBlob is not valid base64');
  // Refuse before decoding when the result would be too large anyway.
  if ((data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0) > maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `image is larger than ${maxBytes} bytes`);
  }
  return Buffer.from(data, 'base64');
}

/** Entity tags of an If-None-Match header, weak ones compared by their opaque part. */
function ifNoneMatchTags(header: string | undefined): string[] {
  if (!header) return [];
  // Our tags are short; anything longer can match none of them (and is not passed on).
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).filter((tag) => tag !== '' && tag.length <= limits.etagLength);
}

/** Counts a view in this worker's batch (view-batcher.ts); never delays or fails the request. */
function recordView(views: ViewBatcher, request: FastifyRequest, imageId: string): void {
  // Anonymous readers (no credentials at all) need no token check.
  if (!request.headers.authorization && !request.headers.cookie && !(request.body as { accessToken?: unknown } | undefined)?.accessToken) {
    views.record(imageId, undefined);
    return;
  }
  void request.callerIfAny()
    .catch(() => undefined)
    .then((caller) => views.record(imageId, caller?.userId));
}

/** For an app built without one (app.ts passes its own): sent on close like app.ts's. */
function ownViewBatcher(app: FastifyInstance, deps: GatewayDeps): ViewBatcher {
  const views = createViewBatcher({
    send: async (batch) => void (await deps.recommendations.RecordViews({ views: batch }, { timeoutMs: sideCallTimeoutMs })),
    logger: deps.logger,
  });
  app.addHook('onClose', () => views.stop());
  return views;
}

/** The images service's byte limit, asked once a minute; the default when it cannot be asked. */
function limitsCache(deps: GatewayDeps) {
  let known: { maxBytes: number; at: number } | undefined;
  return {
    async maxBytes(): Promise<number> {
      if (known && Date.now() - known.at < limitsTtlMs) return known.maxBytes;
      try {
        known = { maxBytes: (await deps.images.Limits({}, { timeoutMs: sideCallTimeoutMs })).maxBytes, at: Date.now() };
        return known.maxBytes;
      } catch {
        return known?.maxBytes ?? defaultMaxImageBytes;
      }
    },
  };
}
