// One error hierarchy for every process. Every error Easel raises on purpose is an EaselError
// with a stable `code`; callers branch on the code, never on message text or on a class.
// AppError is the kind a request can end with: its codes have a public HTTP status
// (`httpStatusFor`, the only such table; the RPC wire has its own rule in rpc/wire.ts).
// Process-level errors (bad configuration, a launcher that cannot start) carry codes of their own.

export class EaselError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** The stable code of an error Easel raised, or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  return error instanceof EaselError ? error.code : undefined;
}

/** Request-level codes and the status each one answers with at the public HTTP edge. */
export const errorCodes = {
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
  /** The service's database is failing over and did not come back before the deadline (docs/failover.md). */
  DATABASE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

/** The public HTTP status of a code. */
export function httpStatusFor(code: ErrorCode): number {
  return errorCodes[code];
}

export interface AppErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before trying again (429, 503). */
  retryAfterSeconds?: number;
  /** Extra machine-readable detail that is safe to show a client. */
  details?: Record<string, unknown>;
}

export class AppError extends EaselError {
  declare readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(code, message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  /** The shape errors travel in between services and to clients. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export const invalidArgument = (message: string, options?: AppErrorOptions) => new AppError('INVALID_ARGUMENT', message, options);
export const unauthenticated = (message: string, options?: AppErrorOptions) => new AppError('UNAUTHENTICATED', message, options);
export const forbidden = (message: string, options?: AppErrorOptions) => new AppError('FORBIDDEN', message, options);
export const notFound = (message: string, options?: AppErrorOptions) => new AppError('NOT_FOUND', message, options);
export const conflict = (message: string, options?: AppErrorOptions) => new AppError('CONFLICT', message, options);
export const unavailable = (message: string, options?: AppErrorOptions) => new AppError('UNAVAILABLE', message, options);

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** What an HTTP framework or parser throws for a request it refused (Fastify, @fastify/multipart). */
interface HttpLikeError {
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

export const internalErrorMessage = 'internal error';

/**
 * Any thrown value as an AppError. A request the HTTP layer refused (a 4xx from Fastify or a
 * body parser) is the caller's fault and keeps its meaning; anything unexpected becomes
 * INTERNAL with a message safe for clients (the original stays as the cause, for the log).
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof EaselError) && error !== null && typeof error === 'object') {
    const { statusCode, validation, message } = error as HttpLikeError;
    const text = typeof message === 'string' && message !== '' ? message : 'invalid request';
    if (validation !== undefined) return new AppError('INVALID_ARGUMENT', text, { cause: error });
    if (statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', 'request body too large', { cause: error });
    if (statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content type', { cause: error });
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return new AppError('INVALID_ARGUMENT', text, { cause: error });
  }
  return new AppError('INTERNAL', internalErrorMessage, { cause: error });
}
