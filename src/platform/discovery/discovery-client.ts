import { Pool } from '../http-pool.js';
import { AppError, isErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { discoveryAudience, newNonce, serviceAuthHeaders, type ServiceCredentials } from '../service-auth.js';

// The reading side of discovery, shared by the RPC transport: the registry snapshot and the
// original design's ticket look-ups (docs/departures.md), from whichever discovery replica answers. Requests go to the
// replica that answered last; on a failure the next replica is tried, so a dead replica
// costs one failed attempt, not every call.

export interface SnapshotInstance {
  host: string;
}

export interface DiscoverySnapshot {
  /** The replica that answered. */
  replica: string;
  version: number;
  leaseMs: number;
  /** How long the answering replica has been up: a young replica may not know every instance yet. */
  uptimeMs: number;
  services: Record<string, SnapshotInstance[]>;
}

export interface IssuedTicket {
  host: string;
  connTicket: string;
  /** Tickets are closed on the replica that issued them. */
  replica: string;
}

export interface DiscoveryClientSettings {
  discovery: readonly string[];
  logger: Logger;
  /** Proves this process to discovery and checks that answers come from discovery. */
  credentials: ServiceCredentials;
  /** Per request to one replica. */
  requestTimeoutMs?: number;
  /** Keep-alive connections per replica. */
  connections?: number;
}

export interface DiscoveryClient {
  snapshot(): Promise<DiscoverySnapshot>;
  issueTicket(serviceName: string): Promise<IssuedTicket>;
  closeTicket(ticket: IssuedTicket): Promise<void>;
  /** Tells every replica that this caller's breaker for an instance opened (POST /service/report). */
  reportTripped?(serviceName: string, host: string): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicaAnswer {
  status: number;
  body: unknown;
}

/** An answer that does not carry discovery's MAC over our nonce: not from a replica of this cluster. */
export class UnauthenticatedAnswerError extends Error {
  readonly code = 'DISCOVERY_ANSWER_UNAUTHENTICATED';
}

/**
 * One JSON request to one replica, with this process's service token, and a nonce the answer's
 * MAC must cover. Network failures, timeouts and answers without a valid MAC (a process posing
 * as discovery, or an old answer replayed) throw; HTTP statuses do not.
 */
export async function requestReplica(
  pool: Pool, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, timeoutMs: number, credentials: ServiceCredentials,
  options: { signedAnswer?: boolean } = {},
): Promise<ReplicaAnswer> {
  // Answers nothing is decided on (closing a ticket, a report) need no MAC: one HMAC less each side.
  const nonce = options.signedAnswer === false ? undefined : newNonce();
  const response = await pool.request({
    method,
    path,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      [serviceAuthHeaders.service]: credentials.tokenFor(discoveryAudience),
      ...(nonce ? { [serviceAuthHeaders.nonce]: nonce } : {}),
    },
    body: body === undefined ? null : JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.body.text();
  const mac = response.headers[serviceAuthHeaders.answerMac];
  if (nonce && !credentials.verifyAnswer(nonce, text, typeof mac === 'string' ? mac : undefined)) {
    throw new UnauthenticatedAnswerError(`${method} ${path}: the answer (status ${response.statusCode}) is not signed by discovery`);
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, body: parsed };
}

/** The discovery service's failure body `{message:"failure", error, code}` as an AppError. */
export function failureFrom(answer: ReplicaAnswer, replica: string): AppError {
  const body = (answer.body ?? {}) as { error?: unknown; code?: unknown };
  const code = isErrorCode(body.code) ? body.code : 'UNAVAILABLE';
  const message = typeof body.error === 'string' && body.error !== '' ? body.error : `discovery ${replica} answered ${answer.status}`;
  return new AppError(code, message, code === 'UNAVAILABLE' ? { retryAfterSeconds: 1 } : {});
}

/** No discovery replica answered at all (as opposed to a replica answering with a failure). */
export class DiscoveryUnreachableError extends AppError {
  constructor(cause: unknown) {
    super('UNAVAILABLE', 'no discovery replica answered', { cause, retryAfterSeconds: 1 });
  }
}

export function createDiscoveryClient(settings: DiscoveryClientSettings): DiscoveryClient {
  if (settings.discovery.length === 0) throw new Error('at least one discovery address is required');
  const timeoutMs = settings.requestTimeoutMs ?? 1_000;
  const pools = new Map<string, Pool>();
  const poolFor = (replica: string) => {
    let pool = pools.get(replica);
    if (!pool) {
      pool = new Pool(`http://${replica}`, { connections: settings.connections ?? 16, pipelining: 1 });
      pools.set(replica, pool);
    }
    return pool;
  };
  let current = 0;
  let closed = false;

  /**
   * Tries each replica once, starting with the one that answered last; a failure (thrown by
   * `attempt` for a network error or a failure answer) moves on to the next.
   */
  async function firstAnswer<T>(what: string, attempt: (replica: string, pool: Pool) => Promise<T>): Promise<T> {
    if (closed) throw new AppError('UNAVAILABLE', 'discovery client closed');
    const replicas = settings.discovery;
    let lastError: unknown;
    let answeredError: AppError | undefined;
    for (let i = 0; i < replicas.length; i++) {
      const index = (current + i) % replicas.length;
      const replica = replicas[index]!;
      try {
        const result = await attempt(replica, poolFor(replica));
        if (index !== current) {
          settings.logger.info({ replica, previous: replicas[current] }, 'switched discovery replica');
          current = index;
        }
        return result;
      } catch (error) {
        if (error instanceof AppError) answeredError = error;
        else lastError = error;
        settings.logger.debug({ err: error, replica, what }, 'discovery replica failed');
      }
    }
    // A replica that answered (e.g. "no live instance") says more than one that did not.
    if (answeredError) throw answeredError;
    throw new DiscoveryUnreachableError(lastError);
  }

  return {
    snapshot: () =>
      firstAnswer('snapshot', async (replica, pool) => {
        const answer = await requestReplica(pool, 'GET', '/services', undefined, timeoutMs, settings.credentials);
        if (answer.status !== 200) throw failureFrom(answer, replica);
        const body = answer.body as Omit<DiscoverySnapshot, 'replica'>;
        return { replica, version: body.version, leaseMs: body.leaseMs, uptimeMs: body.uptimeMs ?? Number.MAX_SAFE_INTEGER, services: body.services ?? {} };
      }),
    issueTicket: (serviceName) =>
      firstAnswer('ticket', async (replica, pool) => {
        const answer = await requestReplica(pool, 'GET', `/service?serviceName=${encodeURIComponent(serviceName)}`, undefined, timeoutMs, settings.credentials);
        if (answer.status !== 200) throw failureFrom(answer, replica);
        const body = answer.body as { host: string; connTicket: string };
        return { host: body.host, connTicket: body.connTicket, replica };
      }),
    closeTicket: async (ticket) => {
      const answer = await requestReplica(poolFor(ticket.replica), 'POST', '/ticket', { connTicket: ticket.connTicket }, timeoutMs, settings.credentials, { signedAnswer: false });
      if (answer.status !== 200) throw failureFrom(answer, ticket.replica);
    },
    reportTripped: async (serviceName, host) => {
      await Promise.allSettled(settings.discovery.map((replica) => requestReplica(poolFor(replica), 'POST', '/service/report', { serviceName, host, reason: 'circuit-open' }, timeoutMs, settings.credentials, { signedAnswer: false })));
    },
    close: async () => {
      closed = true;
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}
