import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildDiscoveryApp } from '../../src/discovery/app.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import { gatewayConfigSchema } from '../../src/gateway/config.js';
import { openApiPath } from '../../src/platform/api-docs.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { repoRoot } from '../../src/platform/repo-root.js';
import { inMemorySharedState } from '../fakes/shared-state.js';

// The two OpenAPI documents as the running gateway and discovery serve them, and where their
// committed copies live. `npm run docs:openapi` writes them (write-openapi.ts); the unit test
// test/unit/docs/openapi.test.ts keeps the copies equal. No network: the apps are built with
// stand-ins and asked through inject(); no handler runs, so the stand-ins are never called.

export interface ApiSurface {
  name: string;
  /** The committed copy, relative to the repository. */
  file: string;
  build(): Promise<FastifyInstance>;
}

/** Any value will do: no document depends on it, and no request is authenticated. */
const documentClusterSecret = 'openapi-document-cluster-secret-0123456789';

const silent = () => createLogger({ name: 'openapi', level: 'silent' });

export const apiSurfaces: ApiSurface[] = [
  {
    name: 'gateway',
    file: 'docs/openapi.json',
    build: () => buildGatewayApp({
      config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: documentClusterSecret, INSTANCE_NAME: 'gateway', GATEWAY_WORKERS: '1' }),
      logger: silent(),
      metrics: createMetricsRegistry('gateway', { defaults: false }),
      sharedState: inMemorySharedState(),
      users: {} as never,
      images: {} as never,
      recommendations: {} as never,
    }),
  },
  {
    name: 'discovery',
    file: 'docs/discovery-openapi.json',
    build: async () => buildDiscoveryApp({
      config: { INSTANCE_NAME: 'discovery', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: documentClusterSecret },
      logger: silent(),
      metrics: createMetricsRegistry('discovery', { defaults: false }),
    }).app,
  },
];

/** The document `app` serves at /docs/openapi.json, as the committed file spells it. */
export async function servedDocument(app: FastifyInstance): Promise<string> {
  const response = await app.inject({ method: 'GET', url: openApiPath });
  if (response.statusCode !== 200) throw new Error(`${openApiPath} answered ${response.statusCode}`);
  return `${JSON.stringify(response.json(), null, 2)}\n`;
}

export async function committedDocument(surface: ApiSurface): Promise<string> {
  return readFile(join(repoRoot(), surface.file), 'utf8');
}
