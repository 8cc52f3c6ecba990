import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { Clock } from '../platform/clock.js';
import { Type, type TSchema } from 'typebox';
import { namedPattern } from '../contracts/limits.js';
import { invalidArgument } from '../platform/errors.js';
import { failureShapes } from '../platform/render-error.js';
import type { DiscoveryConfig } from './config.js';
import { validateRegistration, type ServiceRegistry } from './registry.js';

/** The name discovery lists itself under in Prometheus targets. */
export const discoveryServiceName = 'DISCOVERY SERVICE';

const success = { message: 'success', error: '' } as const;

// Route schemas: they refuse malformed requests (400, naming the field) and make the OpenAPI
// document served at /docs/openapi.json (committed as docs/discovery-openapi.json).

/** An instance's address as callers dial it. */
export const hostAddress = namedPattern('^[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}$', 'an address "host:port"');
export const discoveryPatternNames: ReadonlyMap<string, string> = new Map([[hostAddress.source, hostAddress.meaning]]);

const serviceNameField = Type.String({ minLength: 1, maxLength: 200, description: 'the registered name, e.g. "USER SERVICE"' });
const hostField = Type.String({ pattern: hostAddress.source, maxLength: 300, description: hostAddress.meaning });
const instanceBody = Type.Object({ serviceName: serviceNameField, host: hostField }, { additionalProperties: true });
const successBody = Type.Object({ message: Type.Literal('success'), error: Type.Literal('') });
const failureSchema = failureShapes.failure.schema;
const failure = (description: string): TSchema => ({ ...failureSchema, description });
const badRequest = { 400: failure('a field is missing or malformed (see error)') };
const instanceView = Type.Object({
  host: Type.String(), openTickets: Type.Integer(), suspect: Type.Boolean({ description: 'a caller reported its circuit breaker open; look-ups pass it over for now' }),
  registeredAt: Type.Integer({ description: 'ms since the epoch' }), lastHeartbeat: Type.Integer({ description: 'ms since the epoch' }),
  leaseExpiresAt: Type.Integer({ description: 'ms since the epoch; evicted then without a heartbeat' }),
});

export interface DiscoveryHandlerDeps {
  registry: ServiceRegistry;
  config: Pick<DiscoveryConfig, 'INSTANCE_NAME' | 'HOST'> & Partial<Pick<DiscoveryConfig, 'DISCOVERY_PEERS'>>;
  logger: Logger;
  metrics: Registry;
  clock: Clock;
}

/**
 * The HTTP endpoints (all in docs/discovery-openapi.json): the original contract's four
 * (docs/departures.md: GET /service, POST /ticket, POST /service, DELETE /service) verbatim, plus heartbeats, the whole registry (GET /services) and Prometheus
 * http_sd targets. Failures keep the original `{message:"failure", error}` shape with a `code`
 * and a proper status. Thin: the registry decides.
 */
export function registerDiscoveryHandlers(app: FastifyInstance, deps: DiscoveryHandlerDeps): void {
  const { registry, config, logger, metrics, clock } = deps;
  const counters = requestCounters(metrics);
  const startedAt = clock.now();

  // Clients written from the original contract (docs/departures.md) may omit the content type; treat bodies as JSON.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.get('/service', {
    schema: {
      summary: 'Look up a service: the instance with the fewest open tickets (round-robin among ties) and a ticket',
      description: 'serviceName comes from the query string or, as the original client sends it, a JSON body (also without a content type).',
      tags: ['discovery'],
      querystring: Type.Object({ serviceName: Type.Optional(serviceNameField) }),
      response: {
        200: Type.Object({ host: Type.String(), connTicket: Type.String({ description: 'close it with POST /ticket; it expires by itself after TICKET_TTL_MS' }) }),
        ...badRequest,
        503: failure('no live instance of the service; try again after Retry-After'),
      },
    },
  }, async (request) => {
    const serviceName = await serviceNameOf(request);
    try {
      const ticket = registry.issueTicket(serviceName);
      counters.lookups.inc({ service: serviceName, outcome: 'success' });
      return ticket;
    } catch (error) {
      // "No live instance" is an expected answer (503 with Retry-After), rendered like every failure.
      counters.lookups.inc({ service: serviceName, outcome: 'failure' });
      throw error;
    }
  });

  app.post('/ticket', {
    schema: {
      summary: 'Close a connection ticket (an unknown or expired one is fine)',
      tags: ['discovery'],
      body: Type.Object({ connTicket: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: successBody, ...badRequest },
    },
  }, async (request) => {
    const { connTicket } = bodyOf(request);
    if (typeof connTicket !== 'string' || connTicket === '') throw invalidArgument('connTicket is required');
    registry.closeTicket(connTicket);
    return success;
  });

  app.post('/service', {
    schema: {
      summary: 'Register an instance (again is fine: it renews the lease)',
      tags: ['discovery'],
      body: instanceBody,
      response: { 200: successBody, ...badRequest },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    if (registry.register(serviceName, host)) {
      counters.registrations.inc({ service: serviceName });
      logger.info({ serviceName, host }, 'instance registered');
    }
    return success;
  });

  app.delete('/service', {
    schema: {
      summary: 'Deregister an instance on graceful shutdown',
      tags: ['discovery'],
      body: instanceBody,
      response: { 200: successBody, ...badRequest },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    registry.deregister(serviceName, host);
    logger.info({ serviceName, host }, 'instance deregistered');
    return success;
  });

  const heartbeat = async (request: FastifyRequest) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    // NOT_FOUND tells the instance to register again (e.g. after this replica restarted).
    registry.heartbeat(serviceName, host);
    return success;
  };
  const heartbeatSchema = (summary: string) => ({
    summary,
    tags: ['discovery'],
    body: instanceBody,
    response: { 200: successBody, ...badRequest, 404: failure('this replica does not know the instance: register again (e.g. after the replica restarted)') },
  });
  app.put('/service/heartbeat', { schema: heartbeatSchema('Renew an instance\'s lease (about every second; evicted at last heartbeat + LEASE_MS)') }, heartbeat);
  app.post('/heartbeat', { schema: heartbeatSchema('The same heartbeat, as a POST') }, heartbeat);

  // uptimeMs lets clients tell a freshly restarted replica (whose registry is still refilling
  // from heartbeats) from one whose registry is complete.
  // A caller's circuit breaker for an instance opened: look-ups pass it over for a while.
  app.post('/service/report', {
    schema: {
      summary: 'Report an instance whose circuit breaker opened at the caller; look-ups pass it over for a while',
      tags: ['discovery'],
      body: Type.Object({ serviceName: serviceNameField, host: hostField, reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: true }),
      response: { 200: successBody, ...badRequest },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    registry.reportTripped(serviceName, host);
    counters.trippedReports.inc({ service: serviceName });
    logger.warn({ serviceName, host, reason: body.reason }, 'instance reported tripped by a caller');
    return success;
  });

  app.get('/services', {
    schema: {
      summary: 'The whole registry, with a version bumped on every membership change (clients route on this snapshot)',
      tags: ['discovery'],
      response: {
        200: Type.Object({
          instance: Type.String({ description: 'this discovery replica' }),
          uptimeMs: Type.Integer({ description: 'a freshly restarted replica is still refilling from heartbeats' }),
          version: Type.Integer(), leaseMs: Type.Integer(),
          services: Type.Record(Type.String(), Type.Array(instanceView)),
        }),
      },
    },
  }, async () => ({ instance: config.INSTANCE_NAME, uptimeMs: clock.now() - startedAt, ...registry.snapshot() }));

  app.get('/prometheus/targets', {
    schema: {
      summary: 'Scrape targets in Prometheus http_sd format: both discovery replicas and every live instance',
      tags: ['operations'],
      response: { 200: Type.Array(Type.Object({ targets: Type.Array(Type.String()), labels: Type.Record(Type.String(), Type.String()) })) },
    },
  }, async () => {
    const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
    const self = selfAddress(app, config.HOST);
    for (const address of new Set([...(self ? [self] : []), ...(config.DISCOVERY_PEERS ?? [])])) {
      groups.push({ targets: [address], labels: { service: discoveryServiceName, instance: address } });
    }
    for (const [serviceName, instances] of Object.entries(registry.snapshot().services)) {
      for (const instance of instances) groups.push({ targets: [instance.host], labels: { service: serviceName, instance: instance.host } });
    }
    return groups;
  });
}

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) return body as Record<string, unknown>;
  return {};
}

/** GET /service takes serviceName from the query string or, as in the original, a JSON body. */
async function serviceNameOf(request: FastifyRequest): Promise<string> {
  const query = request.query as Record<string, unknown> | undefined;
  let serviceName = query?.serviceName;
  if (serviceName === undefined) {
    // Fastify does not parse bodies of GET requests; read it here.
    const raw = await readRaw(request, 64 * 1024);
    if (raw.length > 0) serviceName = parseJsonBody(raw.toString('utf8'))?.serviceName;
  }
  if (typeof serviceName !== 'string' || serviceName.trim() === '') throw invalidArgument('serviceName is required');
  return serviceName;
}

function parseJsonBody(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidArgument('body is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument('body must be a JSON object');
  return parsed as Record<string, unknown>;
}

async function readRaw(request: FastifyRequest, limit: number): Promise<Buffer> {
  const raw = request.raw;
  if (raw.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw invalidArgument('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function selfAddress(app: FastifyInstance, host: string): string | undefined {
  const address = app.server.address() as AddressInfo | string | null;
  if (!address || typeof address === 'string') return undefined;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${shownHost}:${address.port}`;
}

function requestCounters(metrics: Registry) {
  return {
    registrations: new Counter({ name: 'discovery_registrations_total', help: 'Instances newly registered', labelNames: ['service'], registers: [metrics] }),
    trippedReports: new Counter({ name: 'discovery_tripped_reports_total', help: 'Callers reporting an instance whose circuit breaker opened', labelNames: ['service'], registers: [metrics] }),
    lookups: new Counter({ name: 'discovery_lookups_total', help: 'GET /service look-ups by outcome', labelNames: ['service', 'outcome'], registers: [metrics] }),
  };
}
