import { AppError } from '../errors.js';

// What a PostgreSQL failure means for the request that met it. A data exception (SQLSTATE class
// 22: a NUL byte in text, a timestamp out of range, a bad encoding) or an integrity violation
// (class 23) is the database's deterministic answer to a value it cannot take: the request is
// bad (INVALID_ARGUMENT, 400), the service is healthy. A connection that failed or a server that
// is shutting down or short of resources is an outage (UNAVAILABLE, 503, worth another try).
// Anything else stays unexpected (INTERNAL). Repositories still turn the failures they expect
// (a taken name) into their own codes first; this is the rule for the rest.

/** SQLSTATE classes of values the database refuses. */
const badValueClasses = new Set(['22', '23']);
/** Connection exceptions (08), insufficient resources (53), operator intervention (57: shutdown, cancel). */
const outageClasses = new Set(['08', '53', '57']);
/** postgres.js's own codes for a connection that could not be made or was lost. */
const connectionCodes = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/**
 * A server error as postgres.js reports it. Told by its class name rather than `instanceof`:
 * every HTTP server renders errors through this module, the gateway included, which has no
 * database and should not load a PostgreSQL client for it.
 */
function isPostgresError(error: unknown): error is Error & { code?: unknown } {
  return error instanceof Error && error.name === 'PostgresError';
}

/** The AppError a database failure stands for, or undefined when `error` is not one. */
export function databaseFailure(error: unknown): AppError | undefined {
  if (isPostgresError(error)) {
    const sqlState = typeof error.code === 'string' ? error.code : '';
    const sqlClass = sqlState.slice(0, 2);
    if (badValueClasses.has(sqlClass)) return new AppError('INVALID_ARGUMENT', 'a value was refused by the database (out of range or not allowed)', { cause: error, details: { sqlState } });
    if (outageClasses.has(sqlClass)) return new AppError('UNAVAILABLE', 'the database is unavailable; try again', { cause: error });
    return undefined;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && connectionCodes.has(code)) return new AppError('UNAVAILABLE', 'the database is unavailable; try again', { cause: error });
  return undefined;
}
