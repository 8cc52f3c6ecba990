import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../deps.js';

/** Public images endpoints (placeholder until its issue lands). */
export async function imagesRoutes(_app: FastifyInstance, _deps: GatewayDeps): Promise<void> {}
