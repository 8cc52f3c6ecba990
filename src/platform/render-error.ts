import { Type, type TSchema } from 'typebox';
import { errorCodes, httpStatusFor, internalErrorMessage, toAppError, type AppError, type ErrorCode } from './errors.js';
import { databaseFailure } from './db/database-errors.js';
import { rpcWireFailure } from './rpc/wire.js';
import type { FailureShape } from './failure-shape.js';

// The one way a failure becomes an answer, for every HTTP surface: the public edge (gateway,
// discovery), and the RPC wire. A shape says which status a code gets and what the body looks
// like. The public shapes are the original contract's (docs/departures.md), by name; a route picks one by name
// (route config `failureShape`), so every failure of that route answers in it.

export type { FailureShape, RenderableError } from './failure-shape.js';

const errorText = Type.String({ description: 'What went wrong and, where it helps, what to do.' });
const codeField = Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(errorCodes), description: 'Stable error code; branch on it, not on the text.' });
const empty = (description: string) => Type.Literal('', { description });

const publicShape = (body: FailureShape['body'], schema: TSchema): FailureShape => ({ status: httpStatusFor, body, schema });

/** The named shapes of the original contract, plus the RPC wire's. */
export const failureShapes = {
  /** The default: `{message: "failure", error, code}`. */
  failure: publicShape(
    (error) => ({ message: 'failure', error: error.message, code: error.code }),
    Type.Object({ message: Type.Literal('failure'), error: errorText, code: codeField }),
  ),
  /** POST /login and /refresh: the token pair, empty. */
  tokenPair: publicShape(
    (error) => ({ accessToken: '', refreshToken: '', error: error.message, code: error.code }),
    Type.Object({ accessToken: empty('empty on failure'), refreshToken: empty('empty on failure'), error: errorText, code: codeField }),
  ),
  /** POST /img: the image id, empty. */
  upload: publicShape(
    (error) => ({ message: 'failure', imageID: '', error: error.message, code: error.code }),
    Type.Object({ message: Type.Literal('failure'), imageID: empty('empty on failure'), error: errorText, code: codeField }),
  ),
  /** GET /{imgID}: an empty image. */
  imageBlob: publicShape(
    (error) => ({ imageBlob: '', author: '', title: '', description: '', error: error.message, code: error.code }),
    Type.Object({
      imageBlob: empty('empty on failure'), author: empty('empty on failure'), title: empty('empty on failure'), description: empty('empty on failure'),
      error: errorText, code: codeField,
    }),
  ),
  /** Between services. */
  rpc: rpcWireFailure,
} satisfies Record<string, FailureShape>;

export type FailureShapeName = keyof typeof failureShapes;

/** Seconds a client is told to wait when the error did not say (every 429 and 503 carries Retry-After). */
export const defaultRetryAfterSeconds = 1;

export interface RenderedError {
  status: number;
  body: Record<string, unknown>;
  /** For the Retry-After header; set on every 429 and 503. */
  retryAfterSeconds: number | undefined;
  /** The error as the hierarchy knows it (INTERNAL for anything unexpected, with the original as cause). */
  error: AppError;
}

/** Any thrown value as a status, a body in `shape` and a Retry-After. Internals never reach the body. */
export function renderError(thrown: unknown, shape: FailureShapeName | FailureShape = 'failure'): RenderedError {
  // A database's refusal of a bad value is the caller's fault, not an internal failure (db/database-errors.ts).
  const error = databaseFailure(thrown) ?? toAppError(thrown);
  const format = typeof shape === 'string' ? failureShapes[shape] : shape;
  const status = format.status(error.code);
  const retryAfterSeconds = error.retryAfterSeconds ?? (status === 429 || status === 503 ? defaultRetryAfterSeconds : undefined);
  const body = format.body({
    code: error.code,
    // An unexpected failure's text could name hosts, queries or secrets; the log has it, the client does not.
    message: error.code === 'INTERNAL' ? internalErrorMessage : error.message,
    details: error.details,
    retryAfterSeconds,
  });
  return { status, body, retryAfterSeconds, error };
}
