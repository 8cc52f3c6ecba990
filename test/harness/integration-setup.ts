import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresHandle } from './postgres.js';
import { startRedisRing, type RedisRingHandle } from './redis.js';

// Vitest globalSetup for the integration tier: ONE PostgreSQL and ONE 4-node Redis ring for the
// whole run; each test file takes its own database (see context.ts) so files don't interfere.

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the shared test PostgreSQL ("postgres" database). */
    pgAdminUrl: string;
    /** "name=host:port,..." of the shared Redis ring, as REDIS_NODES takes it. */
    redisNodes: string;
  }
}

let postgresServer: PostgresHandle | undefined;
let redisRing: RedisRingHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  [postgresServer, redisRing] = await Promise.all([startPostgres(), startRedisRing(4)]);
  project.provide('pgAdminUrl', postgresServer.adminUrl);
  project.provide('redisNodes', redisRing.spec);
}

export async function teardown(): Promise<void> {
  await Promise.allSettled([postgresServer?.stop(), redisRing?.stop()]);
}
