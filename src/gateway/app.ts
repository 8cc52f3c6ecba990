import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import type { GatewayConfig } from './config.js';

export interface GatewayAppDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: Registry;
}

/** Builds one gateway worker's app (skeleton: health and metrics only). */
export async function buildGatewayApp(deps: GatewayAppDeps): Promise<FastifyInstance> {
  return createHttpServer({ logger: deps.logger, metrics: deps.metrics });
}
