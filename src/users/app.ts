import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import { createHttpServer } from '../platform/http.js';
import type { UsersConfig } from './config.js';

export interface UsersAppDeps {
  config: UsersConfig;
  logger: Logger;
  metrics: Registry;
}

/** Builds the users service (skeleton: health and metrics only). Tests call this directly. */
export async function buildUsersApp(deps: UsersAppDeps): Promise<FastifyInstance> {
  return createHttpServer({ logger: deps.logger, metrics: deps.metrics });
}
