// Every failure the app can meet, as one error with words a person can act on. The server's
// `code` decides the wording; its `error` text is shown where it says something useful.

export type ErrorCode =
  | 'INVALID_ARGUMENT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE' | 'QUOTA_EXCEEDED' | 'RATE_LIMITED' | 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' | 'INTERNAL'
  | 'NETWORK' | 'BAD_ANSWER';

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  constructor(status: number, code: ErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const knownCodes = new Set<string>([
  'INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', 'QUOTA_EXCEEDED', 'RATE_LIMITED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL',
]);

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The error a failed answer stands for: status, the server's code, and words to show. */
export function errorFromAnswer(status: number, body: unknown, retryAfter: string | null): ApiError {
  const fields = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const serverText = typeof fields.error === 'string' ? fields.error : '';
  const code = typeof fields.code === 'string' && knownCodes.has(fields.code) ? (fields.code as ErrorCode) : codeForStatus(status);
  return new ApiError(status, code, wordsFor(code, serverText, retryAfter, status));
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 429) return 'RATE_LIMITED';
  if (status >= 400 && status < 500) return 'INVALID_ARGUMENT';
  if (status === 503) return 'UNAVAILABLE';
  return 'BAD_ANSWER';
}

function wordsFor(code: ErrorCode, serverText: string, retryAfter: string | null, status: number): string {
  switch (code) {
    case 'RATE_LIMITED': {
      const seconds = Number(retryAfter);
      const wait = Number.isFinite(seconds) && seconds > 0 ? `wait ${Math.ceil(seconds)} seconds` : 'wait a little';
      return `${sentence(serverText || 'Too many tries')} Please ${wait} and try again.`;
    }
    case 'UNAVAILABLE':
    case 'DEADLINE_EXCEEDED':
    case 'INTERNAL':
      return 'Easel is having trouble right now. Please try again in a moment.';
    case 'QUOTA_EXCEEDED':
      return `${sentence(serverText || 'Your upload quota is full')} Delete an image in “My images” to make room.`;
    case 'CONFLICT':
      return serverText === 'existing username' ? 'That name is already taken. Please choose another one.' : sentence(serverText || 'That conflicts with something already there');
    case 'UNAUTHENTICATED':
      return sentence(serverText && !/access token/.test(serverText) ? serverText : 'Please log in to do that');
    case 'NOT_FOUND':
      return sentence(serverText || 'That could not be found');
    case 'BAD_ANSWER':
      return `Easel answered unexpectedly (HTTP ${status}). Please try again in a moment.`;
    default:
      return sentence(serverText || 'That did not work');
  }
}

export const networkError = () => new ApiError(0, 'NETWORK', 'Could not reach Easel. Check your connection and try again.');

/** Words for anything thrown: an ApiError's own, otherwise a general sentence (never a blank). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong on this page. Please reload it and try again.';
}
