import { EventEmitter } from 'node:events';
import { Pool } from '../http-pool.js';
import { AppError, EaselError } from '../errors.js';
import { errorFromWire } from './wire.js';
import { newNonce, serviceAuthHeaders, type ActingUser, type ServiceCredentials } from '../service-auth.js';
import {
  frameBody, rpcHeaders, rpcPath, unframeBody,
  type InputOf, type OutputOf, type RpcMethod, type RpcMethods, type RpcService,
} from './contract.js';

// The caller's side of RPC. `createRpcClient` turns a contract into typed methods; a transport
// decides where each call goes (one fixed address, or balanced over discovered replicas with
// retries and breakers) and performs the HTTP exchange.

export interface RpcCallOptions {
  /** Total time budget for the call, retries included. */
  timeoutMs?: number;
  /** Time limit of one attempt on one instance, when this call needs another than the transport's (slow work such as uploads). */
  perTryTimeoutMs?: number;
  /** Makes a non-idempotent call safe to retry; the callee answers a repeated key with the first answer. */
  idempotencyKey?: string;
  requestId?: string;
  /** The end user this call acts for (verified by this process): the callee gets a signed assertion of it. */
  actingUser?: ActingUser;
  /** Require the answer to carry the callee's MAC over a fresh nonce (for answers this process trusts, such as keys). */
  authenticatedAnswer?: boolean;
}

export interface RpcRequest {
  serviceName: string;
  path: string;
  /** Safe to retry on another replica: declared idempotent or carrying an idempotency key. */
  retryable: boolean;
  headers: Record<string, string>;
  body: Buffer | string;
  deadline: number;
  /** Overrides the transport's per-try timeout for this call. */
  perTryTimeoutMs?: number;
  actingUser?: ActingUser;
  authenticatedAnswer?: boolean;
}

export interface RpcResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RpcTransport {
  send(request: RpcRequest): Promise<RpcResponse>;
  close?(): Promise<void>;
}

export type RpcClient<M extends RpcMethods> = {
  [K in keyof M]: (input: InputOf<M[K]>, options?: RpcCallOptions) => Promise<OutputOf<M[K]>>;
};

export const defaultRpcTimeoutMs = 5_000;

/**
 * A call's whole budget when the caller names none. Long enough to ride through a database
 * failover (the primary replaced within ~7 s, docs/failover.md): the callee holds the request
 * and answers when the new primary does. Per-try timeouts stay short, so a hung instance is
 * still left for another one within a couple of seconds.
 */
export const defaultCallTimeoutMs = 12_000;

export function createRpcClient<M extends RpcMethods>(service: RpcService<M>, transport: RpcTransport): RpcClient<M> {
  const client = {} as Record<string, (input: unknown, options?: RpcCallOptions) => Promise<unknown>>;
  for (const [methodName, method] of Object.entries(service.methods)) {
    client[methodName] = (input, options = {}) => callMethod(service, methodName, method, input, options, transport);
  }
  return client as RpcClient<M>;
}

async function callMethod(service: RpcService, methodName: string, method: RpcMethod, input: unknown, options: RpcCallOptions, transport: RpcTransport): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? defaultCallTimeoutMs;
  const headers: Record<string, string> = {};
  let body: Buffer | string;
  if (method.bytesIn) {
    const { [method.bytesIn]: bytes, ...fields } = input as Record<string, unknown>;
    const framed = frameBody(fields, Buffer.isBuffer(bytes) ? bytes : Buffer.alloc(0));
    headers['content-type'] = 'application/octet-stream';
    headers[rpcHeaders.jsonLength] = framed.jsonLength;
    body = framed.body;
  } else {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(input ?? {});
  }
  if (options.idempotencyKey) headers[rpcHeaders.idempotencyKey] = options.idempotencyKey;
  if (options.requestId) headers[rpcHeaders.requestId] = options.requestId;
  const response = await transport.send({
    serviceName: service.serviceName,
    path: rpcPath(service.name, methodName),
    retryable: method.idempotent || options.idempotencyKey !== undefined,
    headers,
    body,
    deadline: Date.now() + timeoutMs,
    ...(options.perTryTimeoutMs === undefined ? {} : { perTryTimeoutMs: options.perTryTimeoutMs }),
    ...(options.actingUser === undefined ? {} : { actingUser: options.actingUser }),
    ...(options.authenticatedAnswer ? { authenticatedAnswer: true } : {}),
  });
  return decodeResponse(method, response);
}

export function decodeResponse(method: RpcMethod, response: RpcResponse): unknown {
  if (response.status >= 400) throw errorFromResponse(response);
  if (method.bytesOut) {
    const lengthHeader = response.headers[rpcHeaders.jsonLength];
    const framed = unframeBody(response.body, typeof lengthHeader === 'string' ? lengthHeader : undefined);
    if (!framed) throw new AppError('UNAVAILABLE', 'malformed RPC answer');
    return { ...framed.fields, [method.bytesOut]: framed.bytes };
  }
  return response.body.length === 0 ? {} : JSON.parse(response.body.toString('utf8'));
}

/** Rebuilds the callee's AppError from a failed answer (the wire shape; anything else is UNAVAILABLE). */
export function errorFromResponse(response: RpcResponse): AppError {
  return errorFromWire(response.status, response.body);
}

/**
 * An attempt that ran out its per-try timeout (the call may have reached the callee). Not an
 * AppError: it never ends a request as it is; the transport decides whether to try another
 * instance and what the caller sees, and it counts against the instance that did not answer.
 */
export class AttemptTimeoutError extends EaselError {
  static readonly code = 'RPC_ATTEMPT_TIMEOUT';
  constructor(timeoutMs: number) {
    super(AttemptTimeoutError.code, `no answer within ${timeoutMs} ms`);
  }
}

/**
 * One attempt on one instance, bounded by the per-try timeout within the call's deadline; the
 * time left is sent downstream so the callee stops when the caller stops waiting. A plain timer
 * and an EventEmitter as undici's abort signal: AbortSignal.timeout and an AbortController per
 * call cost about a fifth of the throughput, and undici's header timeout fires up to a second late.
 */
export async function sendToOrigin(pool: Pool, request: RpcRequest, perTryTimeoutMs: number, credentials: ServiceCredentials): Promise<RpcResponse> {
  const remaining = request.deadline - Date.now();
  if (remaining <= 0) throw new AppError('DEADLINE_EXCEEDED', 'deadline exceeded before the call was sent');
  const timeout = Math.min(remaining, perTryTimeoutMs);
  const abort = new EventEmitter();
  const nonce = request.authenticatedAnswer ? newNonce() : undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.emit('abort');
  }, timeout);
  try {
    const response = await pool.request({
      method: 'POST',
      path: request.path,
      headers: {
        ...request.headers,
        [rpcHeaders.timeout]: String(timeout),
        // One token per callee, reused for most of its lifetime (a map look-up here).
        [serviceAuthHeaders.service]: credentials.tokenFor(request.serviceName),
        ...(request.actingUser ? { [serviceAuthHeaders.user]: credentials.assertUser(request.actingUser, request.serviceName) } : {}),
        ...(nonce ? { [serviceAuthHeaders.nonce]: nonce } : {}),
      },
      body: request.body,
      signal: abort,
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    const mac = response.headers[serviceAuthHeaders.answerMac];
    if (nonce && !credentials.verifyAnswer(nonce, body, typeof mac === 'string' ? mac : undefined)) {
      throw new AppError('UNAVAILABLE', `the answer of ${request.serviceName} is not signed by the cluster`);
    }
    return { status: response.statusCode, headers: response.headers as RpcResponse['headers'], body };
  } catch (error) {
    throw timedOut ? new AttemptTimeoutError(timeout) : error;
  } finally {
    clearTimeout(timer);
  }
}

/** A transport to one fixed address (tests, and callers that were given an address). */
export function fixedTransport(origin: string, options: { credentials: ServiceCredentials; perTryTimeoutMs?: number; connections?: number }): RpcTransport {
  const pool = new Pool(origin, { connections: options.connections ?? 32, pipelining: 1 });
  return {
    send: (request) => sendToOrigin(pool, request, request.perTryTimeoutMs ?? options.perTryTimeoutMs ?? defaultRpcTimeoutMs, options.credentials).catch((error: unknown) => {
      if (error instanceof AppError) throw error;
      throw new AppError('UNAVAILABLE', `${request.serviceName} unreachable`, { cause: error });
    }),
    close: () => pool.close(),
  };
}
