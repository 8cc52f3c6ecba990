// One error hierarchy for every process. Callers branch on `code`, never on message text;
// the gateway maps codes to HTTP statuses with `httpStatusFor` (the only such table).

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
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

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

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
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

/** Any thrown value as an AppError; unknown failures become INTERNAL with a message safe for clients. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('INTERNAL', 'internal error', { cause: error });
}
