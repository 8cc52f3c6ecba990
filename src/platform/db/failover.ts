import { AppError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';

// Riding through a database failover. While pg_auto_failover replaces the primary (up to ~7 s,
// docs/failover.md) a service's queries fail in a handful of ways: the connection is refused or
// cut, the server is shutting down (57P01) or not accepting connections yet (57P03), a
// connection lands on a node that is still a standby (25006), or the old primary is frozen and
// never answers. Instead of answering an error, a service holds the operation and tries again
// on the new primary, within the caller's deadline, when doing so cannot apply a write twice.
// Only when the deadline runs out does the caller get DATABASE_UNAVAILABLE (503, Retry-After),
// which no circuit breaker counts against the instance: every replica shares the database.

/** Whether a failed attempt can have changed anything on the server. */
export type FailoverErrorKind = 'not-executed' | 'maybe-executed';

// SQLSTATEs (PostgreSQL appendix A) that say the statement never ran.
const notExecutedStates = new Set([
  '25006', // read_only_sql_transaction: we reached a standby (still in promotion)
  '57P03', // cannot_connect_now: starting up or shutting down
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '53300', // too_many_connections: refused at connection time
]);
// SQLSTATEs that end the connection: whatever was in flight may or may not have committed.
const maybeExecutedStates = new Set([
  '57P01', // admin_shutdown: the old primary being stopped or demoted
  '57P02', // crash_shutdown
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);
// postgres.js and Node socket errors (their `code`).
const notExecutedCodes = new Set(['CONNECT_TIMEOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);
const stalledCode = 'DATABASE_STALLED';
const maybeExecutedCodes = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', stalledCode]);

/** An attempt that got no answer while the database did not answer a fresh connection either (a hung server). */
export class DatabaseStalledError extends Error {
  readonly code = stalledCode;
  constructor(ms: number) {
    super(`no answer from the database for ${ms} ms and a fresh connection got none either`);
  }
}

/** How a failure relates to a failover, or undefined when it is an ordinary error (bad SQL, a constraint...). */
export function failoverErrorKind(error: unknown): FailoverErrorKind | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (notExecutedStates.has(code) || notExecutedCodes.has(code)) return 'not-executed';
  if (maybeExecutedStates.has(code) || maybeExecutedCodes.has(code)) return 'maybe-executed';
  return undefined;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return failoverErrorKind(error) !== undefined;
}

/** What a caller sees when the database stayed away until its deadline. */
export function databaseUnavailable(cause: unknown, retryAfterSeconds = 2): AppError {
  return new AppError('DATABASE_UNAVAILABLE', 'the database is failing over; try again shortly', { cause, retryAfterSeconds });
}

/** What the ride-through needs of the database: a way to tell a hung server from a slow query, and to drop connections stuck on it. */
export interface FailoverProbe {
  /** True when a fresh connection answers `select 1` within a short time. */
  answers(): Promise<boolean>;
  /** Replaces every pooled connection (those stuck on a hung server fail at once). */
  reconnect(): void;
  /** Told when a request met the database unavailable, and when one got through again (outage metrics). */
  noteUnavailable?(): void;
  noteAvailable?(): void;
}

export interface RideThroughOptions {
  /** Epoch ms after which the caller no longer waits; the last try must end before it. */
  deadline: number;
  /**
   * Whether a failure that may have committed (connection cut mid-statement) may be retried:
   * true for idempotent work or work keyed by an idempotency key.
   */
  retryMaybeExecuted: boolean;
  clock?: Clock;
  /** Detects a hung server: after `stallMs` without an answer, probe, and if the probe fails too, reconnect. */
  probe?: FailoverProbe;
  /** How long an attempt may go unanswered before the database is probed (default 1500 ms). */
  stallMs?: number;
  /**
   * Pause before the first retry, doubling up to `maxDelayMs` (defaults 100 ms, 500 ms). The cap
   * is how late a held request may notice the new primary: a retry costs one refused connection
   * or one read-only answer, so it is kept short.
   */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (logs, metrics). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Runs `work`, retrying it on failover errors that are safe to retry until `deadline`; an
 * ordinary error passes through unchanged. When the deadline runs out the caller gets
 * DATABASE_UNAVAILABLE; a failure that may have committed and is not safe to retry comes back
 * as DATABASE_UNAVAILABLE at once (the caller must not be told it failed for sure).
 */
export async function rideThroughFailover<T>(work: () => Promise<T>, options: RideThroughOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const stallMs = options.stallMs ?? 1_500;
  const maxDelayMs = options.maxDelayMs ?? 500;
  let delay = options.initialDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    try {
      const result = await attemptBounded(work, options.deadline, clock, options.probe, stallMs);
      options.probe?.noteAvailable?.();
      return result;
    } catch (thrown) {
      error = thrown;
    }
    if (error instanceof DeadlineReached) throw databaseUnavailable(error.cause);
    const kind = failoverErrorKind(error);
    if (kind === undefined) throw error;
    options.probe?.noteUnavailable?.();
    if (kind === 'maybe-executed' && !options.retryMaybeExecuted) throw databaseUnavailable(error, 1);
    if (clock.now() + delay >= options.deadline) throw databaseUnavailable(error);
    options.onRetry?.(error, attempt);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
    delay = Math.min(maxDelayMs, delay * 2);
  }
}

class DeadlineReached extends Error {
  constructor(readonly cause: unknown) {
    super('deadline reached while waiting for the database');
  }
}

/**
 * One attempt, bounded by the deadline. A hung server never answers (its kernel still holds
 * the connection open), so waiting is not enough: after `stallMs`, a fresh connection is tried;
 * if it fails as well the pool is reconnected, which fails the stuck attempt with a connection
 * error that the caller may retry on the new primary.
 */
async function attemptBounded<T>(work: () => Promise<T>, deadline: number, clock: Clock, probe: FailoverProbe | undefined, stallMs: number): Promise<T> {
  const running = work();
  const timers: unknown[] = [];
  let stalled: unknown;
  const bounded = new Promise<never>((_, reject) => {
    timers.push(clock.setTimeout(() => reject(new DeadlineReached(stalled)), Math.max(0, deadline - clock.now())));
    if (!probe) return;
    const check = () => {
      void probe.answers().then((ok) => {
        if (ok) {
          timers.push(clock.setTimeout(check, stallMs));
          return;
        }
        stalled = new DatabaseStalledError(stallMs);
        probe.reconnect();
      });
    };
    timers.push(clock.setTimeout(check, stallMs));
  });
  bounded.catch(() => undefined);
  try {
    return await Promise.race([running, bounded]);
  } finally {
    for (const timer of timers) clock.clearTimeout(timer);
    // An attempt abandoned at the deadline may still settle later; nobody waits for it.
    running.catch(() => undefined);
  }
}

/** Settings of rideThroughHandlers. */
export interface RideThroughHandlerOptions {
  clock?: Clock;
  /**
   * The answer must leave before the caller's per-try timer fires, or the caller counts a
   * timeout against this instance: give up this long before the deadline (default 300 ms).
   */
  marginMs?: number;
  /**
   * Methods that are not idempotent but whose handler keys its writes per request (it
   * recognises, on a re-run, what an earlier attempt committed): a re-run is safe for them.
   */
  keyedByRequest?: readonly string[];
  stallMs?: number;
}

/** What rideThroughHandlers needs of a handler's context (the RPC server's RpcContext). */
interface HandlerContext {
  deadline: number;
  idempotencyKey: string | undefined;
  log: { warn(object: Record<string, unknown>, message: string): void };
}

/**
 * Wraps every RPC handler of a service so that a database failover holds the request instead of
 * failing it: a failed attempt is re-run (after a short backoff) until the caller's deadline
 * when that is safe: any failure that ran nothing (refused, read-only standby, not accepting
 * connections), and, for idempotent methods, requests with an idempotency key or methods in
 * `keyedByRequest`, also a failure that may have committed. Every write of a non-idempotent
 * handler is one statement or one transaction, so re-running a handler whose statement never
 * ran repeats nothing. The database's probe (createDatabase) unsticks requests held by a hung
 * primary. Errors that are not the database's pass through untouched.
 */
export function rideThroughHandlers<H extends Record<string, (input: never, context: never) => Promise<unknown>>>(
  methods: Readonly<Record<string, { idempotent: boolean }>>,
  handlers: H,
  probe: FailoverProbe | undefined,
  options: RideThroughHandlerOptions = {},
): H {
  const marginMs = options.marginMs ?? 300;
  const keyed = new Set(options.keyedByRequest ?? []);
  const wrapped: Record<string, (input: never, context: never) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    const idempotent = methods[name]?.idempotent ?? false;
    wrapped[name] = (input, rawContext) => {
      const context = rawContext as HandlerContext;
      return rideThroughFailover(() => handler(input, rawContext), {
        deadline: context.deadline - marginMs,
        retryMaybeExecuted: idempotent || keyed.has(name) || context.idempotencyKey !== undefined,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(probe ? { probe } : {}),
        ...(options.stallMs === undefined ? {} : { stallMs: options.stallMs }),
        onRetry: (error, attempt) => context.log.warn({ method: name, attempt, reason: (error as { code?: unknown }).code }, 'database unavailable; holding the request and trying again'),
      });
    };
  }
  return wrapped as H;
}
