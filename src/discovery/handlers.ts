import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { Clock } from '../platform/clock.js';
import { Type, type TSchema } from 'typebox';
import { namedPattern } from '../contracts/limits.js';
import { forbidden, invalidArgument, unauthenticated } from '../platform/errors.js';
import { failureShapes } from '../platform/render-error.js';
import { discoveryAudience, serviceAuthHeaders, type ServiceCredentials, type VerifiedService } from '../platform/service-auth.js';
import { clusterServiceNames, type DiscoveryConfig } from './config.js';
import { parseHost, validateRegistration, type ServiceRegistry } from './registry.js';

/** The name discovery lists itself under in Prometheus targets. */
export const discoveryServiceName = discoveryAudience;

const success = { message: 'success', error: '' } as const;

// Route schemas: they refuse malformed requests (400, naming the field) and make the OpenAPI
// document served at /docs/openapi.json (committed as docs/discovery-openapi.json).

/** An instance's address as callers dial it. */
export const hostAddress = namedPattern('^[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}$', 'an address "host:port"');
export const discoveryPatternNames: ReadonlyMap<string, string> = new Map([[hostAddress.source, hostAddress.meaning]]);

// No length limit of its own: unknown names are refused by the allow-list (and counted as "other").
const serviceNameField = Type.String({ minLength: 1, description: 'the registered name, e.g. "USER SERVICE"' });
const hostField = Type.String({ pattern: hostAddress.source, maxLength: 300, description: hostAddress.meaning });
const instanceBody = Type.Object({ serviceName: serviceNameField, host: hostField }, { additionalProperties: true });
const successBody = Type.Object({ message: Type.Literal('success'), error: Type.Literal('') });
const failureSchema = failureShapes.failure.schema;
const failure = (description: string): TSchema => ({ ...failureSchema, description });
/** Every route but /health needs a service token of this cluster. */
const refusals = {
  400: failure('a field is missing or malformed (see error)'),
  401: failure('no valid service token in x-easel-service-token'),
  403: failure('the token\'s service may not act for this instance, or the name or host is not allowed'),
};
const instanceView = Type.Object({
  host: Type.String(),
  metrics: Type.Optional(Type.String({ description: 'where Prometheus scrapes it ("host:port"), when it said' })),
  openTickets: Type.Integer(), suspect: Type.Boolean({ description: 'a caller reported its circuit breaker open; look-ups pass it over for now' }),
  registeredAt: Type.Integer({ description: 'ms since the epoch' }), lastHeartbeat: Type.Integer({ description: 'ms since the epoch' }),
  leaseExpiresAt: Type.Integer({ description: 'ms since the epoch; evicted then without a heartbeat' }),
});

export interface DiscoveryHandlerDeps {
  registry: ServiceRegistry;
  config: Pick<DiscoveryConfig, 'INSTANCE_NAME' | 'HOST'> & Partial<Pick<DiscoveryConfig, 'SERVICE_NAMES' | 'REGISTRATION_HOSTS'>>;
  logger: Logger;
  metrics: Registry;
  clock: Clock;
  credentials: ServiceCredentials;
}

/** Registration hosts named "loopback": the machine itself. */
const loopback = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);

/** What every answer says of the route's caller, set by the authentication hook. */
const callers = new WeakMap<FastifyRequest, VerifiedService>();

/**
 * The HTTP endpoints (all in docs/discovery-openapi.json): the original contract's four
 * (docs/departures.md: GET /service, POST /ticket, POST /service, DELETE /service) verbatim, plus heartbeats, the whole registry (GET /services) and Prometheus
 * http_sd targets. Failures keep the original `{message:"failure", error}` shape with a `code`
 * and a proper status. Thin: the registry decides.
 */
export function registerDiscoveryHandlers(app: FastifyInstance, deps: DiscoveryHandlerDeps): void {
  const { registry, config, logger, metrics, clock, credentials } = deps;
  const counters = requestCounters(metrics);
  const startedAt = clock.now();
  const allowedNames = new Set(config.SERVICE_NAMES ?? clusterServiceNames);
  const allowedHosts = config.REGISTRATION_HOSTS ?? ['loopback'];
  /** A metric label: a name from the allow-list, never what a caller typed. */
  const label = (serviceName: string) => (allowedNames.has(serviceName) ? serviceName : 'other');

  // Every answer (failures included) carries a MAC over the asker's nonce and the body, so a
  // process that is not a discovery replica of this cluster cannot answer in its place.
  // (Callback-style hooks: an async hook costs a promise per request on every look-up.)
  app.addHook('onSend', (request, reply, payload, done) => {
    const nonce = request.headers[serviceAuthHeaders.nonce];
    if (typeof nonce === 'string' && nonce.length <= 64 && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      reply.header(serviceAuthHeaders.answerMac, credentials.answerMac(nonce, payload));
    }
    done(null, payload);
  });
  // Every endpoint but /health needs a service token of this cluster (before the body is read).
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.url === '/health') return done();
    const token = request.headers[serviceAuthHeaders.service];
    const caller = credentials.verifyService(typeof token === 'string' ? token : undefined, discoveryAudience);
    if (!caller) return done(unauthenticated('a valid service token is required'));
    callers.set(request, caller);
    done();
  });

  /** Only an instance of an allowed service, speaking for itself, at a host it may use. */
  const checkInstance = (request: FastifyRequest, serviceName: string, host: string) => {
    if (!allowedNames.has(serviceName)) throw forbidden('not a service of this cluster');
    const caller = callers.get(request);
    if (caller?.service !== serviceName) throw forbidden(`a credential of ${caller?.service ?? 'nobody'} cannot act for ${serviceName}`);
    const { hostname } = parseHost(host)!;
    const source = request.ip.replace(/^::ffff:/, '');
    const allowed = allowedHosts.some((rule) => (rule === 'loopback' && loopback(hostname)) || (rule === 'source' && (hostname === source || hostname === `[${source}]`)) || rule === hostname);
    if (!allowed) throw forbidden(`host ${hostname} may not be registered`);
  };

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
        ...refusals,
        503: failure('no live instance of the service; try again after Retry-After'),
      },
    },
  }, async (request) => {
    const serviceName = await serviceNameOf(request);
    try {
      const ticket = registry.issueTicket(serviceName);
      counters.lookups.inc({ service: label(serviceName), outcome: 'success' });
      return ticket;
    } catch (error) {
      // "No live instance" is an expected answer (503 with Retry-After), rendered like every failure.
      counters.lookups.inc({ service: label(serviceName), outcome: 'failure' });
      throw error;
    }
  });

  app.post('/ticket', {
    schema: {
      summary: 'Close a connection ticket (an unknown or expired one is fine)',
      tags: ['discovery'],
      body: Type.Object({ connTicket: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: successBody, ...refusals },
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
      body: Type.Object({
        serviceName: serviceNameField, host: hostField,
        metricsPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'the instance\'s internal metrics port, for Prometheus' })),
      }, { additionalProperties: true }),
      response: { 200: successBody, ...refusals },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    checkInstance(request, serviceName, host);
    const metricsAddress = metricsAddressOf(host, body.metricsPort);
    if (registry.register(serviceName, host, metricsAddress)) {
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
      response: { 200: successBody, ...refusals },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    checkInstance(request, serviceName, host);
    registry.deregister(serviceName, host);
    logger.info({ serviceName, host }, 'instance deregistered');
    return success;
  });

  const heartbeat = async (request: FastifyRequest) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    checkInstance(request, serviceName, host);
    // NOT_FOUND tells the instance to register again (e.g. after this replica restarted).
    registry.heartbeat(serviceName, host);
    return success;
  };
  const heartbeatSchema = (summary: string) => ({
    summary,
    tags: ['discovery'],
    body: instanceBody,
    response: { 200: successBody, ...refusals, 404: failure('this replica does not know the instance: register again (e.g. after the replica restarted)') },
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
      response: { 200: successBody, ...refusals },
    },
  }, async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    // Any service of the cluster may report an instance it calls; only registered ones are affected.
    if (!allowedNames.has(serviceName)) throw forbidden('not a service of this cluster');
    registry.reportTripped(serviceName, host);
    counters.trippedReports.inc({ service: serviceName });
    logger.warn({ serviceName, host, reporter: callers.get(request)?.instance, reason: typeof body.reason === 'string' ? body.reason.slice(0, 64) : undefined }, 'instance reported tripped by a caller');
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
        401: refusals[401],
      },
    },
  }, async () => ({ instance: config.INSTANCE_NAME, uptimeMs: clock.now() - startedAt, ...registry.snapshot() }));

}

/**
 * Prometheus http_sd targets, served on discovery's internal metrics port: this replica and its
 * peers (their metrics addresses), then every instance that said where its metrics are.
 */
export function registerPrometheusTargets(app: FastifyInstance, deps: { registry: ServiceRegistry; self: () => string | undefined; peers: readonly string[] }): void {
  app.get('/prometheus/targets', async () => {
    const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
    const self = deps.self();
    for (const address of new Set([...(self ? [self] : []), ...deps.peers])) {
      groups.push({ targets: [address], labels: { service: discoveryServiceName, instance: address } });
    }
    for (const [serviceName, instances] of Object.entries(deps.registry.snapshot().services)) {
      for (const instance of instances) {
        if (instance.metrics) groups.push({ targets: [instance.metrics], labels: { service: serviceName, instance: instance.host } });
      }
    }
    return groups;
  });
}

/** Where an instance's metrics are: its own host with the port it gave (never another host). */
function metricsAddressOf(host: string, metricsPort: unknown): string | undefined {
  if (metricsPort === undefined) return undefined;
  if (typeof metricsPort !== 'number' || !Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) throw invalidArgument('metricsPort must be a port from 1 to 65535');
  return `${parseHost(host)!.hostname}:${metricsPort}`;
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

export function selfAddress(app: FastifyInstance, host: string): string | undefined {
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
