import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import type { RecommendationsConfig } from './config.js';

export interface RecommendationsAppDeps {
  config: RecommendationsConfig;
  logger: Logger;
  metrics: Registry;
}

/** Builds the recommendations service (skeleton: health and metrics only). Tests call this directly. */
export async function buildRecommendationsApp(deps: RecommendationsAppDeps): Promise<FastifyInstance> {
  return createHttpServer({ logger: deps.logger, metrics: deps.metrics });
}
