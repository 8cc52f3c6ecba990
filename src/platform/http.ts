import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyError, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { Histogram } from 'prom-client';
import type { Logger } from './log.js';
import { AppError, httpStatusFor, isAppError } from './errors.js';

export const requestIdHeader = 'x-request-id';

export interface HttpServerSettings {
  logger: Logger;
  metrics: Registry;
  /** Extra health detail, e.g. whether a database answers. Throwing means not ready. */
  healthCheck?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  bodyLimit?: number;
  /** Where /metrics text comes from when it is not just `metrics` (e.g. summed over cluster workers). */
  metricsText?: () => Promise<string>;
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
}

/**
 * A Fastify server with what every Easel process needs: request ids carried across services,
 * `/health` and `/metrics`, request latency metrics, and errors in the documented shape
 * `{message: "failure", error, code}` that never leak internals.
 */
export function createHttpServer(settings: HttpServerSettings): FastifyInstance {
  const app = Fastify({
    loggerInstance: settings.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimit ?? 1024 * 1024,
    requestIdHeader,
    genReqId: () => randomUUID(),
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

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const body = errorBody(error);
    if (body.status >= 500) request.log.error({ err: error }, 'request error');
    if (isAppError(error) && error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
    return reply.status(body.status).send({ message: 'failure', error: body.message, code: body.code });
  });
  app.setNotFoundHandler((_request, reply) => {
    return reply.status(404).send({ message: 'failure', error: 'no such endpoint', code: 'NOT_FOUND' });
  });

  app.get('/health', async (_request, reply) => {
    try {
      const detail = settings.healthCheck ? await settings.healthCheck() : {};
      return { status: 'ok', ...detail };
    } catch (error) {
      return reply.status(503).send({ status: 'unavailable', error: (error as Error).message });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', settings.metrics.contentType);
    return settings.metricsText ? settings.metricsText() : settings.metrics.metrics();
  });

  return app;
}

/** Maps any thrown value to a status, a client-safe message and a stable code. */
export function errorBody(error: unknown): { status: number; message: string; code: string } {
  if (isAppError(error)) return { status: httpStatusFor(error.code), message: error.message, code: error.code };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) return { status: 400, message: fastifyError.message ?? 'invalid request', code: 'INVALID_ARGUMENT' };
  const status = fastifyError.statusCode;
  if (status === 413 || fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: 'request body too large', code: 'PAYLOAD_TOO_LARGE' };
  if (status === 415 || fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, message: 'unsupported content type', code: 'UNSUPPORTED_MEDIA_TYPE' };
  if (status !== undefined && status >= 400 && status < 500) return { status, message: fastifyError.message ?? 'invalid request', code: 'INVALID_ARGUMENT' };
  return { status: 500, message: 'internal error', code: 'INTERNAL' };
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
