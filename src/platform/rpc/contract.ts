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
  /** JSON arguments (base64url) when the body carries bytes. */
  args: 'x-rpc-args',
  /** JSON result (base64url) when the body carries bytes. */
  result: 'x-rpc-result',
  /** Milliseconds the callee has left before the caller gives up. */
  timeout: 'x-rpc-timeout-ms',
  idempotencyKey: 'idempotency-key',
  requestId: 'x-request-id',
} as const;

export function encodeHeaderJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeHeaderJson(value: string): unknown {
  return JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
}
