import { z } from 'zod';

// An RPC contract: a service name and its methods, each with zod schemas for input and
// output. Services serve contracts and callers use them; both import them from src/contracts.

export interface RpcMethod<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  /** Safe to retry on another replica without an idempotency key. */
  idempotent: boolean;
  /** Name of a Buffer field of the input sent as the raw request body (image bytes). */
  bytesIn?: string;
  /** Name of a Buffer field of the output sent as the raw response body. */
  bytesOut?: string;
}

export type RpcMethods = Record<string, RpcMethod>;

/** Who may call a method (src/contracts/access.ts); every caller needs a service token whatever this says. */
export interface MethodAccess {
  /** Service names allowed to call it (e.g. "GATEWAY"); absent: any service of the cluster. */
  callers?: readonly string[];
  /** The input field naming the user the call acts for: when present in the input, a user assertion for that user is required. */
  actingUserField?: string;
}

export interface RpcService<M extends RpcMethods = RpcMethods> {
  /** The name the service registers under in discovery, e.g. "USER SERVICE". */
  readonly serviceName: string;
  /** The short name used in RPC paths, e.g. "Users" in POST /rpc/Users.Login. */
  readonly name: string;
  readonly methods: M;
}

export function defineService<M extends RpcMethods>(name: string, serviceName: string, methods: M): RpcService<M> {
  return { name, serviceName, methods };
}

export const bytes = () => z.instanceof(Buffer);

export type InputOf<M extends RpcMethod> = z.input<M['input']>;
export type OutputOf<M extends RpcMethod> = z.output<M['output']>;

export const rpcPath = (service: string, method: string) => `/rpc/${service}.${method}`;

/** Headers of the RPC wire format. */
export const rpcHeaders = {
  /** When a body carries bytes: the byte length of the JSON fields that come before them. */
  jsonLength: 'x-rpc-json-length',
  /** Milliseconds the callee has left before the caller gives up. */
  timeout: 'x-rpc-timeout-ms',
  idempotencyKey: 'idempotency-key',
  requestId: 'x-request-id',
} as const;

/**
 * A body that carries JSON fields beside raw bytes: the JSON first, then the bytes, with the
 * JSON's length in a header. (In a header of their own, the fields would be capped by the
 * server's header limit, and a long description would fail as 431.)
 */
export function frameBody(fields: unknown, bytes: Buffer): { body: Buffer; jsonLength: string } {
  const json = Buffer.from(JSON.stringify(fields ?? {}));
  return { body: Buffer.concat([json, bytes]), jsonLength: String(json.length) };
}

/** The fields and bytes of a framed body; undefined when the length does not fit the body. */
export function unframeBody(body: Buffer, jsonLength: string | undefined): { fields: Record<string, unknown>; bytes: Buffer } | undefined {
  const length = Number(jsonLength ?? 0);
  if (!Number.isInteger(length) || length < 0 || length > body.length) return undefined;
  try {
    const fields = length === 0 ? {} : JSON.parse(body.subarray(0, length).toString('utf8'));
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return undefined;
    return { fields: fields as Record<string, unknown>, bytes: body.subarray(length) };
  } catch {
    return undefined;
  }
}
