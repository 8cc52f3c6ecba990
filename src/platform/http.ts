import { randomUUID } from 'node:crypto';
import AjvCompiler from '@fastify/ajv-compiler';
import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest,
  type FastifySchemaValidationError, type FastifyServerOptions,
} from 'fastify';
import type { Registry } from 'prom-client';
import { Histogram } from 'prom-client';
import type { Logger } from './log.js';
import { invalidArgument, notFound } from './errors.js';
import apiDocs, { type ApiDocsOptions } from './api-docs.js';
import { renderError, type FailureShapeName } from './render-error.js';

export const requestIdHeader = 'x-request-id';

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id a client or a calling service sent, when it is short and plain; undefined otherwise. */
export function acceptedRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && requestIdPattern.test(value) ? value : undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The shape every failure of this route answers in (default `failure`). */
    failureShape?: FailureShapeName;
  }
}

export interface HttpServerSettings {
  logger: Logger;
  metrics: Registry;
  /** Extra health detail, e.g. whether a database answers. Throwing means not ready. */
  healthCheck?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  bodyLimit?: number;
  /** Names for the `pattern`s of route schemas, so a refusal says what was expected rather than quoting a regex. */
  patternNames?: ReadonlyMap<string, string>;
  /** Serve an OpenAPI document of every route (and a viewer) under /docs (platform/api-docs.ts). */
  apiDocs?: ApiDocsOptions;
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
}

/**
 * A Fastify server with what every Easel process needs: request ids carried across services,
 * `/health`, request latency metrics (served apart, on the metrics port: metrics-server.ts), route schemas validated before any
 * handler runs, and every failure answered through `renderError` in the route's shape
 * (`{message: "failure", error, code}` unless the route says otherwise), never leaking internals.
 */
export function createHttpServer(settings: HttpServerSettings): FastifyInstance {
  const app = Fastify({
    loggerInstance: settings.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimit ?? 1024 * 1024,
    // A client's X-Request-Id is kept only when it looks like one (it goes into every log line
    // and on to other services); anything else gets a fresh id.
    requestIdHeader: false,
    genReqId: (request) => acceptedRequestId(request.headers[requestIdHeader]) ?? randomUUID(),
    schemaController: { compilersFactory: { buildValidator: exactBodyValidators } },
    schemaErrorFormatter: (errors, dataVar) => invalidArgument(validationMessage(errors, dataVar, settings.patternNames)),
    ...settings.fastify,
  }) as unknown as FastifyInstance;

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [settings.metrics],
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header(requestIdHeader, request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ route, status: reply.statusCode }, 'request failed');
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, error, request.routeOptions.config.failureShape));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, notFound('no such endpoint')));

  // The document collects routes registered after it, so it comes first and /health loads after it.
  if (settings.apiDocs) void app.register(apiDocs, settings.apiDocs);
  void app.register(async (scope) => {
    scope.get('/health', {
      schema: {
        summary: 'Whether this process can serve (and what it depends on answers)',
        tags: ['operations'],
        response: {
          200: { type: 'object', properties: { status: { const: 'ok' } }, required: ['status'], additionalProperties: true },
          503: { type: 'object', properties: { status: { const: 'unavailable' }, error: { type: 'string' } }, required: ['status', 'error'], description: 'not ready; try again after Retry-After' },
        },
      },
    }, async (_request, reply) => {
      try {
        const detail = settings.healthCheck ? await settings.healthCheck() : {};
        return { status: 'ok', ...detail };
      } catch (error) {
        return reply.status(503).header('retry-after', '1').send({ status: 'unavailable', error: (error as Error).message });
      }
    });
  });

  return app;
}

/** Answers a failure through `renderError` in `shape`, with Retry-After on every 429 and 503. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown, shape: FailureShapeName = 'failure'): FastifyReply {
  const rendered = renderError(error, shape);
  if (rendered.error.code === 'INTERNAL') request.log.error({ err: error }, 'request failed unexpectedly');
  else if (rendered.status >= 500) request.log.debug({ err: error }, 'request could not be served');
  if (rendered.retryAfterSeconds !== undefined) reply.header('retry-after', String(rendered.retryAfterSeconds));
  return reply.status(rendered.status).send(rendered.body);
}

/**
 * Validators from Fastify's own Ajv compiler, except that bodies are never coerced: a JSON
 * number is not a password. Query strings, path parameters and headers arrive as text, so
 * they are (`?limit=10` is the number 10).
 */
const validatorPool = AjvCompiler();
const exactBodyValidators: AjvCompiler.BuildCompilerFromPool = (externalSchemas, options = {}) => {
  const coercing = validatorPool(externalSchemas, options);
  const exact = validatorPool(externalSchemas, { ...options, mode: undefined, customOptions: { ...(options.mode === 'JTD' ? {} : options.customOptions), coerceTypes: false } });
  return (route) => (route.httpPart === 'body' ? exact : coercing)(route);
};

/** The part of a request a schema checks (Fastify's names). */
export type RequestPart = 'body' | 'headers' | 'params' | 'querystring';

/** The first schema violation, e.g. "body.title must NOT have more than 100 characters". */
export function validationMessage(errors: readonly FastifySchemaValidationError[], dataVar: RequestPart, patternNames?: ReadonlyMap<string, string>): string {
  const first = errors[0];
  if (!first) return `${dataVar} is invalid`;
  const where = `${dataVar}${first.instancePath.replaceAll('/', '.')}`;
  if (first.keyword === 'pattern') return `${where} must be ${patternNames?.get(String(first.params.pattern)) ?? 'in the documented format'}`;
  return `${where} ${first.message ?? 'is invalid'}`;
}

export interface GracefulShutdownSettings {
  logger: Logger;
  /** Run in order on SIGTERM/SIGINT: e.g. deregister, close the server, close pools. */
  steps: Array<{ name: string; run: () => Promise<unknown> | unknown }>;
  /** Hard limit before the process exits anyway. */
  timeoutMs?: number;
}

/** Installs SIGTERM/SIGINT handlers that run the shutdown steps once, then exit. */
export function onShutdownSignal(settings: GracefulShutdownSettings): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    settings.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      settings.logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, settings.timeoutMs ?? 10_000);
    timer.unref();
    let code = 0;
    for (const step of settings.steps) {
      try {
        await step.run();
      } catch (error) {
        code = 1;
        settings.logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    settings.logger.info('stopped');
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
