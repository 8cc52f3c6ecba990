import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../deps.js';

/** Public recommendations endpoints (placeholder until its issue lands). */
export async function recommendationsRoutes(_app: FastifyInstance, _deps: GatewayDeps): Promise<void> {}
