import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import type { ImagesConfig } from './config.js';

export interface ImagesAppDeps {
  config: ImagesConfig;
  logger: Logger;
  metrics: Registry;
}

/** Builds the images service (skeleton: health and metrics only). Tests call this directly. */
export async function buildImagesApp(deps: ImagesAppDeps): Promise<FastifyInstance> {
  return createHttpServer({ logger: deps.logger, metrics: deps.metrics });
}
