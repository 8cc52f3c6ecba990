import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../deps.js';

/** Public auth endpoints (placeholder until its issue lands). */
export async function authRoutes(_app: FastifyInstance, _deps: GatewayDeps): Promise<void> {}
