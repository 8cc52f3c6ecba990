import { Type } from 'typebox';
import { AppError, isErrorCode, type ErrorCode } from '../errors.js';
import type { FailureShape } from '../failure-shape.js';

// The RPC wire's own rule for failures: which status each code travels with between services,
// which statuses count against the instance that answered, and which are worth another
// instance. It is separate from the public HTTP table (errors.ts) on purpose: the gateway may
// change what a client sees without changing what callers' circuit breakers count.

const wireStatuses: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  QUOTA_EXCEEDED: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 503,
  INTERNAL: 500,
};

export function wireStatusFor(code: ErrorCode): number {
  return wireStatuses[code];
}

/**
 * What an answer says about the instance that gave it (what its circuit breaker counts). Only
 * signs of ill health count: no answer at all (refused, reset, the per-try timeout; breaker.ts
 * counts those) and answers a proxy in front of a dead or hung instance gives (502, 504). Every
 * other answer came from a live instance: a 4xx is the request's fault, UNAVAILABLE and
 * DEADLINE_EXCEEDED (503) report a dependency or the caller's deadline, and even a 500 is a
 * deterministic answer to one request (a bad input that reached a bug), which must never let a
 * burst of bad requests take an instance away from everyone else.
 */
const unhealthyStatuses: ReadonlySet<number> = new Set([502, 504]);

export function countsAgainstInstance(status: number): boolean {
  return unhealthyStatuses.has(status);
}

/** 5xx answers worth another instance: the instance (or its way out) is unavailable, not the request bad. */
const retryableStatuses: ReadonlySet<number> = new Set([502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return retryableStatuses.has(status);
}

/** How a failure travels between services: `{code, message, details?, retryAfterSeconds?}` with the wire status. */
export const rpcWireFailure: FailureShape = {
  status: wireStatusFor,
  body: (error) => ({
    code: error.code,
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
    ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
  }),
  schema: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    retryAfterSeconds: Type.Optional(Type.Number()),
  }),
};

/** Rebuilds the callee's AppError from a failed answer; anything not in the wire shape is UNAVAILABLE. */
export function errorFromWire(status: number, body: Buffer): AppError {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown; message?: unknown; details?: Record<string, unknown>; retryAfterSeconds?: number };
    if (isErrorCode(parsed.code) && typeof parsed.message === 'string') {
      return new AppError(parsed.code, parsed.message, { details: parsed.details, retryAfterSeconds: parsed.retryAfterSeconds });
    }
  } catch {
    // fall through: not our error shape
  }
  return new AppError('UNAVAILABLE', `upstream answered ${status}`);
}
