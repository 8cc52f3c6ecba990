import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiDocsContentSecurityPolicy, originalContractTag } from '../../../src/platform/api-docs.js';
import { gatewayOriginalContract } from '../../../src/gateway/plugins/api-docs.js';
import { discoveryOriginalContract } from '../../../src/discovery/api-docs.js';
import { apiSurfaces, committedDocument, servedDocument } from '../../support/openapi-documents.js';

// The API references in docs/ are what the running gateway and discovery serve, and they list
// every route each registers with every response it declares. Fastify is wrapped so an onRoute
// hook sees each route from the moment the app is created, before any plugin (the document's
// generator included) is loaded: a route the generator missed would show here.

const registered = vi.hoisted(() => [] as Array<{ server: unknown; route: RouteOptions }>);
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<typeof import('fastify')>();
  const create = actual.default as unknown as (options?: unknown) => FastifyInstance;
  const wrapped = ((options?: unknown) => {
    const app = create(options);
    app.addHook('onRoute', (route) => {
      registered.push({ server: app, route });
    });
    return app;
  }) as typeof actual.default;
  return { ...actual, default: wrapped };
});

type Operation = { responses: Record<string, unknown>; tags?: string[]; 'x-original-contract'?: boolean };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Fastify's `/:imgID/like` and `/app/*` as OpenAPI writes them. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');

const originals: Record<string, readonly string[]> = { gateway: gatewayOriginalContract, discovery: discoveryOriginalContract };

describe.each(apiSurfaces)('the $name API reference ($file)', (surface) => {
  let app: FastifyInstance;
  let served: string;
  let routes: RouteOptions[];

  beforeAll(async () => {
    registered.length = 0;
    app = await surface.build();
    await app.ready();
    // Only this server's routes: a process may run others (e.g. its internal metrics server).
    routes = registered.filter((entry) => entry.server === app).map((entry) => entry.route);
    served = await servedDocument(app);
  });
  afterAll(async () => app.close());

  it('equals what the running process serves at /docs/openapi.json (npm run docs:openapi rewrites it)', async () => {
    expect(await committedDocument(surface), `${surface.file} is stale: run npm run docs:openapi`).toBe(served);
  });

  it('is OpenAPI 3.1', () => {
    expect((JSON.parse(served) as Document).openapi).toBe('3.1.0');
  });

  it('lists every registered route with every response it declares', () => {
    const document = JSON.parse(served) as Document;
    const visible = routes.filter((route) => route.method !== 'HEAD' && !(route.schema as { hide?: boolean } | undefined)?.hide);
    expect(visible.length).toBeGreaterThan(5);
    for (const route of visible) {
      const methods = [route.method].flat();
      for (const method of methods) {
        const where = `${method} ${route.url}`;
        const declared = (route.schema as { response?: Record<string, unknown> } | undefined)?.response;
        expect(declared, `${where} declares no responses`).toBeDefined();
        const operation = document.paths[openApiPath(route.url)]?.[method.toLowerCase()];
        expect(operation, `${where} is missing from ${surface.file}`).toBeDefined();
        expect(Object.keys(operation!.responses).sort(), where).toEqual(Object.keys(declared!).map((status) => status.toUpperCase()).sort());
      }
    }
  });

  it('marks the original contract\'s endpoints, and only them', () => {
    const document = JSON.parse(served) as Document;
    const marked = Object.entries(document.paths).flatMap(([path, operations]) => Object.entries(operations)
      .filter(([, operation]) => operation['x-original-contract'] === true && operation.tags?.includes(originalContractTag))
      .map(([method]) => `${method.toUpperCase()} ${path}`));
    expect(marked.sort()).toEqual([...originals[surface.name]!].sort());
  });

  it('is browsable at /docs from local files under a Content-Security-Policy without inline script', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(apiDocsContentSecurityPolicy);
    expect(apiDocsContentSecurityPolicy).not.toContain('unsafe-inline');
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const scripts = [...page.body.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      expect(script.startsWith('./') || script.startsWith('/docs/'), `${script} is not served locally`).toBe(true);
      const file = await app.inject({ method: 'GET', url: new URL(script, 'http://gateway/docs/').pathname });
      expect(file.statusCode, script).toBe(200);
    }
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain('./json');
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).json()).toEqual(JSON.parse(served));
  });
});
