import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import { forbidden, invalidArgument, unauthenticated } from '../errors.js';
import type { z } from 'zod';
import { serviceAuthHeaders, type ActingUser, type ServiceCredentials, type VerifiedService } from '../service-auth.js';
import { frameBody, rpcHeaders, rpcPath, unframeBody, type MethodAccess, type RpcMethods, type RpcService } from './contract.js';

export interface RpcContext {
  requestId: string;
  /** Epoch milliseconds after which the caller no longer waits. Pass it on to downstream calls. */
  deadline: number;
  idempotencyKey: string | undefined;
  log: Logger;
  /** The service that called, proven by its service token. */
  caller: VerifiedService;
  /** The end user the call acts for, when the caller sent a valid user assertion. */
  user: ActingUser | undefined;
}

export interface RpcServerAuth {
  /** This process's credentials: they verify callers' tokens (meant for this service's name). */
  credentials: ServiceCredentials;
  /** Who may call which method, and which input field names the acting user (src/contracts/access.ts). */
  access?: Readonly<Record<string, MethodAccess>>;
}

export type RpcHandlers<M extends RpcMethods> = {
  [K in keyof M]: (input: z.output<M[K]['input']>, context: RpcContext) => Promise<z.input<M[K]['output']>>;
};

const defaultTimeoutMs = 10_000;

/**
 * Serves a contract on `POST /rpc/<Service>.<Method>`: validates the input, runs the handler,
 * validates nothing more on the way out (the handler's type does that), and answers errors in
 * the RPC wire shape `{code, message, details?, retryAfterSeconds?}` with the wire status (rpc/wire.ts).
 *
 * Every call must carry a service token meant for this service (401 before the body is read
 * otherwise); a method limited to some callers refuses the others (403), and a method acting
 * for a user requires a user assertion naming the user its input names (401 / 403).
 */
export function registerRpcService<M extends RpcMethods>(app: FastifyInstance, service: RpcService<M>, handlers: RpcHandlers<M>, auth: RpcServerAuth): void {
  const callers = new WeakMap<FastifyRequest, VerifiedService>();
  if (!app.hasContentTypeParser('application/octet-stream')) {
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  }
  // A caller that sent a nonce (for answers it acts on, such as the token verification keys)
  // gets a MAC over it and the body: a process outside the cluster cannot answer in our place.
  const signAnswer = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload: unknown) => void) => {
    const nonce = headerValue(request.headers[serviceAuthHeaders.nonce]);
    if (nonce !== undefined && nonce.length <= 64 && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      reply.header(serviceAuthHeaders.answerMac, auth.credentials.answerMac(nonce, payload));
    }
    done(null, payload);
  };
  for (const [methodName, method] of Object.entries(service.methods)) {
    const handler = handlers[methodName as keyof M];
    const access = auth.access?.[methodName];
    // Checked before the body is read: an unauthenticated caller costs no buffering or parsing.
    // A callback-style hook: an async one costs a promise on every call.
    const authenticate = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      const caller = auth.credentials.verifyService(headerValue(request.headers[serviceAuthHeaders.service]), service.serviceName);
      if (!caller) return done(unauthenticated(`a valid service token for ${service.serviceName} is required`));
      if (access?.callers && !access.callers.includes(caller.service)) return done(forbidden(`${caller.service} may not call ${service.name}.${methodName}`));
      callers.set(request, caller);
      done();
    };
    /** The verified user, required when the input names one in the method's acting-user field. */
    const actingUser = (request: FastifyRequest, input: Record<string, unknown>): ActingUser | undefined => {
      const assertion = headerValue(request.headers[serviceAuthHeaders.user]);
      const user = assertion === undefined ? undefined : auth.credentials.verifyUser(assertion, service.serviceName);
      const field = access?.actingUserField;
      if (field === undefined || input[field] === undefined) return user;
      if (!user) throw unauthenticated(`${service.name}.${methodName} acts for a user: a valid user assertion is required`);
      if (user.userId !== input[field]) throw forbidden(`${field} is not the user this call acts for`);
      return user;
    };
    // Every failure of the route, the handler's or the HTTP layer's (a body too large), answers in the wire shape.
    app.post(rpcPath(service.name, methodName), { config: { failureShape: 'rpc' }, onRequest: authenticate, onSend: signAnswer }, async (request, reply) => {
      const raw = readInput(request, method.bytesIn);
      const parsed = method.input.safeParse(raw);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw invalidArgument(`${first?.path.join('.') || 'input'}: ${first?.message ?? 'invalid'}`);
      }
      const user = actingUser(request, parsed.data as Record<string, unknown>);
      const timeoutHeader = Number(request.headers[rpcHeaders.timeout]);
      const context: RpcContext = {
        requestId: request.id,
        deadline: Date.now() + (Number.isFinite(timeoutHeader) && timeoutHeader > 0 ? timeoutHeader : defaultTimeoutMs),
        idempotencyKey: headerValue(request.headers[rpcHeaders.idempotencyKey]),
        log: request.log as unknown as Logger,
        caller: callers.get(request)!,
        user,
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
