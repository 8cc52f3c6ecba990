import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import type { GatewayDeps } from '../deps.js';
import { getAuthCheck, type AuthCheck } from '../auth-check.js';
import { uploadRateLimit } from '../rate-limit.js';
import { imageIdPattern, type ImageVariant } from '../../contracts/images.js';
import { likeCounts, publicImage } from '../public-image.js';
import { AppError, invalidArgument, notFound } from '../../platform/errors.js';

// Public images endpoints. The original's shapes where it has them (POST /img, GET /{imgID},
// PATCH and DELETE /{imgID}); additive endpoints for metadata, bytes and listings. Handlers stay
// thin: parsing and shaping are the small functions below.

/** Used until the images service has told us its limit (and if it cannot be asked). */
const defaultMaxImageBytes = 10 * 1024 * 1024;
const limitsTtlMs = 60_000;
const variantPaths: Record<string, ImageVariant> = { raw: 'original', medium: 'medium', thumb: 'thumb' };
const immutableCacheControl = 'public, max-age=31536000, immutable';
const sideCallTimeoutMs = 1_000;
// Resizing a large image takes seconds on a busy machine, so an upload try gets longer than the
// transport's default; the idempotency key makes the retry on another replica safe.
const uploadTimeoutMs = 30_000;
const uploadPerTryTimeoutMs = 12_000;

interface UploadFields {
  imageBlob?: string;
  image?: Buffer;
  title?: string;
  description?: string;
  tags: string[];
  accessToken?: string;
}

type ImageParams = { imgID: string };

export async function imagesRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const auth = getAuthCheck(deps);
  const limits = limitsCache(deps);

  if (!app.hasContentTypeParser('multipart/form-data')) {
    await app.register(fastifyMultipart, { limits: { fileSize: defaultMaxImageBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 25 } });
  }

  app.get('/limits', async (request) => deps.images.Limits({}, { requestId: request.id }));

  app.get<{ Querystring: Record<string, unknown> }>('/images', async (request) => {
    const query = parseListQuery(request.query);
    const page = await deps.images.List(query, { requestId: request.id });
    const likes = await likeCounts(deps, page.images.map((image) => image.imageId), request.id);
    return { images: page.images.map((image) => publicImage(image, likes[image.imageId] ?? 0)), nextCursor: page.nextCursor };
  });

  app.post('/img', { config: { failureShape: 'upload' } }, async (request, reply) => {
    const maxBytes = await limits.maxBytes();
    const fields = request.isMultipart() ? await readMultipartUpload(request, maxBytes) : readJsonUpload(request.body);
    if (fields.accessToken !== undefined && request.isMultipart()) (request as { body: unknown }).body = { accessToken: fields.accessToken };
    const caller = await auth.require(request);
    await uploadRateLimit(deps, caller);
    const image = fields.image ?? decodeBase64Strictly(fields.imageBlob ?? '', maxBytes);
    if (image.length === 0) throw invalidArgument('imageBlob is required');
    if (image.length > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `image is larger than ${maxBytes} bytes`);
    const { imageId } = await deps.images.Upload(
      { authorId: caller.userId, authorName: caller.name, title: fields.title, description: fields.description, tags: fields.tags, image },
      { requestId: request.id, idempotencyKey: idempotencyKeyOf(request), timeoutMs: uploadTimeoutMs, perTryTimeoutMs: uploadPerTryTimeoutMs },
    );
    return reply.status(201).send({ message: 'success', imageID: imageId, error: '' });
  });

  app.get<{ Params: ImageParams }>('/:imgID', { config: { failureShape: 'imageBlob' } }, async (request) => {
    const imageId = checkedImageId(request.params.imgID);
    const image = await deps.images.Get({ imageId }, { requestId: request.id });
    recordView(deps, auth, request, imageId);
    return { imageBlob: image.image.toString('base64'), author: image.author, title: image.title, description: image.description, error: '' };
  });

  app.get<{ Params: ImageParams }>('/:imgID/info', async (request) => {
    const imageId = checkedImageId(request.params.imgID);
    const info = await deps.images.GetInfo({ imageId }, { requestId: request.id });
    return publicImage(info, (await likeCounts(deps, [imageId], request.id))[imageId] ?? 0);
  });

  for (const [path, variant] of Object.entries(variantPaths)) {
    app.get<{ Params: ImageParams }>(`/:imgID/${path}`, async (request, reply) => {
      const imageId = checkedImageId(request.params.imgID);
      const candidates = ifNoneMatchTags(request.headers['if-none-match']);
      const bytes = await deps.images.GetVariant({ imageId, variant, ifNoneMatch: candidates.length === 1 ? candidates[0] : undefined }, { requestId: request.id });
      reply.header('etag', bytes.etag).header('cache-control', immutableCacheControl);
      if (bytes.notModified || candidates.includes(bytes.etag)) return reply.status(304).send();
      return reply.header('content-type', bytes.contentType).send(bytes.image);
    });
  }

  app.patch<{ Params: ImageParams }>('/:imgID', async (request) => {
    const imageId = checkedImageId(request.params.imgID);
    const caller = await auth.require(request);
    const body = asObject(request.body);
    await deps.images.Modify({ imageId, callerId: caller.userId, title: optionalString(body, 'title'), description: optionalString(body, 'description') }, { requestId: request.id });
    return { message: 'success', error: '' };
  });

  app.delete<{ Params: ImageParams }>('/:imgID', async (request) => {
    const imageId = checkedImageId(request.params.imgID);
    const caller = await auth.require(request);
    await deps.images.Delete({ imageId, callerId: caller.userId }, { requestId: request.id });
    return { message: 'success', error: '' };
  });
}

// ---- parsing -------------------------------------------------------------------------------

function checkedImageId(value: string): string {
  if (!imageIdPattern.test(value)) throw notFound('image not found');
  return value;
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`);
  return value;
}

/** Tags as an array of strings or one comma-separated string (forms send that). */
function parseTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => {
    if (typeof item !== 'string') throw invalidArgument('tags must be strings');
    return item.split(',').map((tag) => tag.trim()).filter(Boolean);
  });
}

function readJsonUpload(rawBody: unknown): UploadFields {
  const body = asObject(rawBody);
  const imageBlob = body.imageBlob;
  if (typeof imageBlob !== 'string' || imageBlob.length === 0) throw invalidArgument('imageBlob is required (base64)');
  return {
    imageBlob,
    title: optionalString(body, 'title'),
    description: optionalString(body, 'description'),
    tags: parseTags(body.tags),
    accessToken: optionalString(body, 'accessToken'),
  };
}

async function readMultipartUpload(request: FastifyRequest, maxBytes: number): Promise<UploadFields> {
  const fields: Record<string, string[]> = {};
  let image: Buffer | undefined;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes } })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'image' && part.fieldname !== 'imageBlob') throw invalidArgument(`unexpected file field "${part.fieldname}" (use "image")`);
        image = await part.toBuffer();
      } else if (typeof part.value === 'string') {
        if (part.valueTruncated) throw invalidArgument(`field "${part.fieldname}" is too long`);
        (fields[part.fieldname] ??= []).push(part.value);
      }
    }
  } catch (error) {
    // The multipart parser throws plain errors for a body it cannot read: that is the client's 400.
    if (error instanceof AppError || (error as { statusCode?: number }).statusCode !== undefined) throw error;
    throw invalidArgument('malformed multipart body');
  }
  if (!image) throw invalidArgument('a file field "image" is required');
  return {
    image,
    title: fields.title?.[0],
    description: fields.description?.[0],
    tags: parseTags(fields.tags),
    accessToken: fields.accessToken?.[0],
  };
}

const base64Alphabet = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 only: its alphabet, length a multiple of 4, padding only at the end. A data: URL prefix is allowed. */
function decodeBase64Strictly(text: string, maxBytes: number): Buffer {
  const data = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  if (text.startsWith('data:') && !/^data:[^,]*;base64,/.test(text)) throw invalidArgument('imageBlob is not valid base64');
  if (data.length % 4 !== 0 || !base64Alphabet.test(data)) throw invalidArgument('imageBlob is not valid base64');
  // Refuse before decoding when the result would be too large anyway.
  if ((data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0) > maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `image is larger than ${maxBytes} bytes`);
  }
  return Buffer.from(data, 'base64');
}

function idempotencyKeyOf(request: FastifyRequest): string {
  const header = request.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) return randomUUID();
  if (key.length === 0 || key.length > 200) throw invalidArgument('Idempotency-Key must be 1-200 characters');
  return key;
}

function parseListQuery(query: Record<string, unknown>): { author?: string; tag?: string; cursor?: string; limit?: number } {
  const text = (name: string) => {
    const value = query[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw invalidArgument(`${name} must be given once`);
    return value;
  };
  const limitText = text('limit');
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) throw invalidArgument('limit must be an integer from 1 to 100');
  return { author: text('author'), tag: text('tag'), cursor: text('cursor'), limit };
}

/** Entity tags of an If-None-Match header, weak ones compared by their opaque part. */
function ifNoneMatchTags(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).filter(Boolean);
}

// ---- shaping -------------------------------------------------------------------------------

/** Counts a view after answering; never delays or fails the request. */
function recordView(deps: GatewayDeps, auth: AuthCheck, request: FastifyRequest, imageId: string): void {
  void (async () => {
    const caller = await auth.optional(request).catch(() => undefined);
    await deps.recommendations.RecordView({ imageId, userId: caller?.userId }, { timeoutMs: sideCallTimeoutMs, requestId: request.id });
  })().catch((error: unknown) => request.log.debug({ err: error, imageId }, 'could not record a view'));
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
