import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { errorCodes } from './errors.js';

// An HTTP surface's OpenAPI 3.1 document, generated from its route schemas (@fastify/swagger),
// served as JSON at /docs/openapi.json and browsable at /docs (Swagger UI, from files in
// node_modules: no internet, no inline script). The committed copies in docs/ are written by
// `npm run docs:openapi` and kept equal by a unit test. Operations of the original contract
// (docs/departures.md says what that is) carry `x-original-contract: true` and the tag
// `original contract`.

export const apiDocsPrefix = '/docs';
export const openApiPath = `${apiDocsPrefix}/openapi.json`;
export const originalContractTag = 'original contract';

/**
 * Swagger UI adds one fixed <style> element at run time; its hash admits exactly that one, so no
 * other inline style (and no inline script at all) runs. test/browser/api-docs.test.ts loads the
 * viewer in chromium and fails on any violation, e.g. when an upgrade changes the element.
 */
const swaggerUiInlineStyle = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/** The viewer's Content-Security-Policy: only its own files, no inline script. */
export const apiDocsContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  `style-src 'self' ${swaggerUiInlineStyle}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface ApiDocsOptions {
  title: string;
  description: string;
  version: string;
  tags: Array<{ name: string; description: string }>;
  /** Operations of the original contract, as `METHOD /path` in OpenAPI's path syntax (`GET /{imgID}`). */
  originalContract: readonly string[];
  /** Adds what route schemas cannot say (e.g. a JSON body on a GET). */
  amend?: (document: OpenApiObject) => void;
}

type Operation = Record<string, unknown> & { tags?: string[] };
export type OpenApiObject = { paths?: Record<string, Record<string, Operation>> } & Record<string, unknown>;

/** The stable error codes and the status each answers with, for the document's description. */
export function errorCodeTable(): string {
  const rows = Object.entries(errorCodes).map(([code, status]) => `| \`${code}\` | ${status} |`);
  return ['| code | HTTP status |', '| --- | --- |', ...rows].join('\n');
}

/** Marks the original contract's operations; throws when one of them is not a route (a renamed path must not drop the mark silently). */
export function markOriginalContract(document: OpenApiObject, originalContract: readonly string[]): OpenApiObject {
  for (const entry of originalContract) {
    const [method = '', path = ''] = entry.split(' ');
    const operation = document.paths?.[path]?.[method.toLowerCase()];
    if (!operation) throw new Error(`original contract operation ${entry} is not a route`);
    operation['x-original-contract'] = true;
    operation.tags = [originalContractTag, ...(operation.tags ?? [])];
  }
  return document;
}

const successDescriptions: Record<string, string> = { 200: 'success', 201: 'created', 204: 'no content' };

/**
 * What @fastify/swagger cannot know from a schema alone: a body that may be left out (its schema
 * admits null) is not required, and a success response without a description says what it is.
 */
export function tidyOperations(document: OpenApiObject): OpenApiObject {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      const body = operation.requestBody as { required?: boolean; content?: Record<string, { schema?: { type?: unknown } }> } | undefined;
      if (body && Object.values(body.content ?? {}).some((media) => Array.isArray(media.schema?.type) && media.schema.type.includes('null'))) body.required = false;
      for (const [status, response] of Object.entries((operation.responses ?? {}) as Record<string, { description?: string }>)) {
        if (response.description === 'Default Response') response.description = successDescriptions[status] ?? 'the answer';
      }
    }
  }
  return document;
}

async function apiDocs(app: FastifyInstance, options: ApiDocsOptions): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, version: options.version, description: `${options.description}\n\n## Error codes\n\n${errorCodeTable()}` },
      tags: [{ name: originalContractTag, description: 'Endpoints of the original design, kept verbatim (paths, bodies, answers, error texts); see docs/departures.md' }, ...options.tags],
    },
    // HEAD answers exactly as GET without a body; listing it twice says nothing new.
    exposeHeadRoutes: false,
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) throw new Error('api-docs writes OpenAPI documents only');
      const document = tidyOperations(markOriginalContract(documentObject.openapiObject as OpenApiObject, options.originalContract));
      options.amend?.(document);
      return document as never;
    },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: apiDocsPrefix,
    staticCSP: apiDocsContentSecurityPolicy,
    uiConfig: { deepLinking: true, validatorUrl: null, tryItOutEnabled: false },
    theme: { title: options.title },
  });
  app.get(openApiPath, { schema: { hide: true } }, async () => app.swagger());
}

/** Registers the document and the viewer; must come before the routes it describes. */
export default fastifyPlugin(apiDocs, { name: 'easel-api-docs', fastify: '5.x' });
