import type { FastifySchemaValidationError } from 'fastify';
import { Type, type Static, type TObject, type TProperties, type TSchema } from 'typebox';
import { limits, namedPattern, patterns, type NamedPattern } from '../contracts/limits.js';
import { invalidArgument, notFound } from '../platform/errors.js';
import { validationMessage, type RequestPart } from '../platform/http.js';
import { failureShapes, type FailureShapeName } from '../platform/render-error.js';

// The building blocks of the public API's route schemas. The numbers come from
// src/contracts/limits.ts; every route file declares params, query, body and every response with
// these, so bad input is refused (400, in the route's shape) before a handler runs, and the
// OpenAPI document can be generated from the routes.

/** Free text a person writes (titles, descriptions): one builder, so a rule for all of it is one edit. */
export function textField(maxLength: number, description?: string) {
  return Type.String({ maxLength, ...(description === undefined ? {} : { description }) });
}

/** A string that must match one of the named patterns (a refusal names what was expected). */
export function patternField(pattern: NamedPattern, options: { maxLength?: number; description?: string } = {}) {
  return Type.String({ pattern: pattern.source, description: options.description ?? pattern.meaning, ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }) });
}

/** `schema` or null, written as a type list (`type: ['string', 'null']`), as OpenAPI 3.1 wants it. */
export function orNull<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A body that may be left out (the token can come from a cookie or a header instead). */
export function optionalBody<P extends TProperties>(properties: P) {
  return orNull(Type.Object(properties, { additionalProperties: false }));
}

/** Standard base64 (padding only at the end), optionally as a data: URL. The length is checked when decoding. */
export const base64Image = namedPattern('^(?:data:[^,]*;base64,)?[A-Za-z0-9+/]*={0,2}$', 'standard base64 image bytes (a data: URL is allowed)');

/** Names of every pattern the schemas use, for refusals that say what was expected. */
export const patternNames: ReadonlyMap<string, string> = new Map(
  [...Object.values(patterns), base64Image].map((pattern) => [pattern.source, pattern.meaning]),
);

export const imageId = patternField(patterns.imageId);
export const imageParams = Type.Object({ imgID: imageId });

/** An access or refresh token sent back by the client. */
export const tokenField = Type.String({ minLength: 1, maxLength: limits.tokenLength });

/** Tags as one comma-separated string or as a list (repeated form fields); normalised by the images service. */
export const tagsField = Type.Union([
  patternField(patterns.tagList, { maxLength: limits.image.tags * (limits.image.tagLength + 3) }),
  Type.Array(patternField(patterns.tagList, { maxLength: limits.image.tags * (limits.image.tagLength + 3) }), { maxItems: limits.image.tags }),
], { description: `at most ${limits.image.tags} tags, as a list or comma-separated` });

export const successBody = Type.Object({ message: Type.Literal('success'), error: Type.Literal('') });
export const success = { message: 'success', error: '' } as const;

export const publicImage = Type.Object({
  imageID: imageId,
  author: Type.String(),
  title: Type.String(),
  description: Type.String(),
  size: Type.Integer({ description: 'bytes of the original' }),
  type: Type.String({ description: 'media type of the original' }),
  width: Type.Integer(),
  height: Type.Integer(),
  tags: Type.Array(Type.String()),
  likes: Type.Integer(),
  created: Type.String({ format: 'date-time' }),
});

/** Refusals every route may give beyond the ones it lists. */
const alwaysPossible: Record<number, string> = {
  500: 'an unexpected failure (the log has the details)',
  503: 'a service it needs is unavailable or too slow; try again after Retry-After',
};

/**
 * Response schemas for a route's failures, all in `shape`: the statuses it lists with what each
 * means, 500 and 503, and any other 4xx (a body too large, a content type nobody parses).
 */
export function failures(shape: FailureShapeName, statuses: Record<number, string>): Record<string, TSchema> {
  const schema = failureShapes[shape].schema as TObject;
  const responses: Record<string, TSchema> = {};
  for (const [status, description] of Object.entries({ ...statuses, ...alwaysPossible })) responses[status] = { ...schema, description };
  responses['4xx'] = { ...schema, description: 'the request was refused (see code)' };
  return responses;
}

/** The message of a schema refusal, naming the field and what it must be. */
export const describeRefusal = (errors: FastifySchemaValidationError[], dataVar: RequestPart) =>
  validationMessage(errors, dataVar, patternNames);

/**
 * For routes under /{imgID}: a path that is not an image id names no image (404, as for an id
 * that does not exist); other refusals are 400 as usual.
 */
export function imageNotFoundOnBadId(errors: FastifySchemaValidationError[], dataVar: RequestPart): Error {
  return dataVar === 'params' ? notFound('image not found') : invalidArgument(describeRefusal(errors, dataVar));
}
