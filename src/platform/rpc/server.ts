import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import { invalidArgument } from '../errors.js';
import type { z } from 'zod';
import { frameBody, rpcHeaders, rpcPath, unframeBody, type RpcMethods, type RpcService } from './contract.js';

export interface RpcContext {
  requestId: string;
  /** Epoch milliseconds after which the caller no longer waits. Pass it on to downstream calls. */
  deadline: number;
  idempotencyKey: string | undefined;
  log: Logger;
}

export type RpcHandlers<M extends RpcMethods> = {
  [K in keyof M]: (input: z.output<M[K]['input']>, context: RpcContext) => Promise<z.input<M[K]['output']>>;
};

const defaultTimeoutMs = 10_000;

/**
 * Serves a contract on `POST /rpc/<Service>.<Method>`: validates the input, runs the handler,
 * validates nothing more on the way out (the handler's type does that), and answers errors in
 * the RPC wire shape `{code, message, details?, retryAfterSeconds?}` with the wire status (rpc/wire.ts).
 */
export function registerRpcService<M extends RpcMethods>(app: FastifyInstance, service: RpcService<M>, handlers: RpcHandlers<M>): void {
  if (!app.hasContentTypeParser('application/octet-stream')) {
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  }
  for (const [methodName, method] of Object.entries(service.methods)) {
    const handler = handlers[methodName as keyof M];
    // Every failure of the route, the handler's or the HTTP layer's (a body too large), answers in the wire shape.
    app.post(rpcPath(service.name, methodName), { config: { failureShape: 'rpc' } }, async (request, reply) => {
      const raw = readInput(request, method.bytesIn);
      const parsed = method.input.safeParse(raw);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw invalidArgument(`${first?.path.join('.') || 'input'}: ${first?.message ?? 'invalid'}`);
      }
      const timeoutHeader = Number(request.headers[rpcHeaders.timeout]);
      const context: RpcContext = {
        requestId: request.id,
        deadline: Date.now() + (Number.isFinite(timeoutHeader) && timeoutHeader > 0 ? timeoutHeader : defaultTimeoutMs),
        idempotencyKey: headerValue(request.headers[rpcHeaders.idempotencyKey]),
        log: request.log as unknown as Logger,
      };
      const output = (await handler(parsed.data as never, context)) as Record<string, unknown>;
      if (method.bytesOut) {
        const { [method.bytesOut]: bytes, ...fields } = output;
        const framed = frameBody(fields, bytes as Buffer);
        reply.header(rpcHeaders.jsonLength, framed.jsonLength);
        reply.header('content-type', 'application/octet-stream');
        return reply.send(framed.body);
      }
      return reply.send(output ?? {});
    });
  }
}

function readInput(request: FastifyRequest, bytesIn: string | undefined): unknown {
  if (!bytesIn) return request.body ?? {};
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const framed = unframeBody(body, headerValue(request.headers[rpcHeaders.jsonLength]));
  if (!framed) throw invalidArgument('malformed RPC body');
  return { ...framed.fields, [bytesIn]: framed.bytes };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
