import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { defineService } from '../../src/platform/rpc/contract.js';
import { registerRpcService } from '../../src/platform/rpc/server.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { sleep } from '../../src/platform/wait.js';
import { testClusterSecret, testCredentials } from './credentials.js';

// A tiny RPC service for tests and benchmarks of the RPC layer: it answers with the name of
// the instance that served the call, so tests can see where calls went.

export const echoService = defineService('Echo', 'ECHO SERVICE', {
  Echo: {
    input: z.object({ text: z.string() }),
    output: z.object({ text: z.string(), instance: z.string() }),
    idempotent: true,
  },
  /** Not idempotent: retried only with an idempotency key. */
  Record: {
    input: z.object({ text: z.string() }),
    output: z.object({ text: z.string(), instance: z.string() }),
    idempotent: false,
  },
  /** Answers after `ms` milliseconds. */
  Sleep: {
    input: z.object({ ms: z.number().int().min(0) }),
    output: z.object({ instance: z.string() }),
    idempotent: true,
  },
});

export function buildEchoApp(instance: string, options: { logLevel?: 'silent' | 'warn' | 'info'; secret?: string } = {}): FastifyInstance {
  const logger = createLogger({ name: instance, level: options.logLevel ?? 'silent' });
  const app = createHttpServer({ logger, metrics: createMetricsRegistry(instance, { defaults: false }) });
  registerRpcService(app, echoService, {
    Echo: async ({ text }) => ({ text, instance }),
    Record: async ({ text }) => ({ text, instance }),
    Sleep: async ({ ms }) => {
      await sleep(ms);
      return { instance };
    },
  }, { credentials: testCredentials(echoService.serviceName, instance, options.secret ?? testClusterSecret) });
  return app;
}
