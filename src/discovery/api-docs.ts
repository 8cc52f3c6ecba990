import type { ApiDocsOptions } from '../platform/api-docs.js';

// Discovery's REST API reference: OpenAPI 3.1 from its route schemas (handlers.ts) at
// /docs/openapi.json, Swagger UI at /docs. Committed as docs/discovery-openapi.json
// (`npm run docs:openapi`).

/** The original design's four discovery endpoints (docs/departures.md). */
export const discoveryOriginalContract = ['GET /service', 'POST /ticket', 'POST /service', 'DELETE /service'] as const;

export const discoveryApiDocs: ApiDocsOptions = {
  title: 'Easel service discovery API',
  version: '1',
  description: [
    'The REST API of a discovery replica (two run; every service registers and heartbeats with each), generated from its route schemas (src/discovery/handlers.ts).',
    '',
    'Operations tagged `original contract` are the original design\'s, kept verbatim; the rest is added (docs/departures.md). Bodies are JSON, also when the request names no content type, and `GET /service` takes its JSON body as the original client sends it.',
    '',
    'Every route except `GET /health` and `/docs` needs a service token of the cluster in `x-easel-service-token` (src/platform/service-auth.ts): 401 without one, 403 when the token\'s service may not act for the instance named. Answers carry a MAC over the caller\'s nonce (`docs/security.md`). Prometheus targets are served on the internal metrics port, not here.',
    '',
    'Failures answer `{message: "failure", error, code}` with the status of the code; every 503 carries `Retry-After`. Leases last `LEASE_MS` (default 5000 ms) after the last heartbeat; tickets expire after `TICKET_TTL_MS` (default 30000 ms).',
  ].join('\n'),
  originalContract: discoveryOriginalContract,
  tags: [
    { name: 'discovery', description: 'Registry, heartbeats, look-ups and tickets' },
    { name: 'operations', description: 'Health, metrics and Prometheus targets' },
  ],
  amend(document) {
    // Fastify validates no body on a GET; the original client sends one, and the handler reads it.
    const lookup = document.paths?.['/service']?.get;
    if (lookup) {
      lookup.requestBody = {
        required: false,
        description: 'the original contract\'s form: serviceName in a JSON body (the query string wins when both are given)',
        content: { 'application/json': { schema: { type: 'object', properties: { serviceName: { type: 'string', minLength: 1 } }, required: ['serviceName'] } } },
      };
    }
  },
};
