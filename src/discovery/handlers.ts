import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { Clock } from '../platform/clock.js';
import { forbidden, invalidArgument, unauthenticated } from '../platform/errors.js';
import { discoveryAudience, serviceAuthHeaders, type ServiceCredentials, type VerifiedService } from '../platform/service-auth.js';
import { clusterServiceNames, type DiscoveryConfig } from './config.js';
import { parseHost, validateRegistration, type ServiceRegistry } from './registry.js';

/** The name discovery lists itself under in Prometheus targets. */
export const discoveryServiceName = discoveryAudience;

const success = { message: 'success', error: '' } as const;

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
 * The HTTP endpoints: the original contract's four (GET /service, POST /ticket, POST /service,
 * DELETE /service) verbatim, plus heartbeats, the whole registry (GET /services) and Prometheus
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

  // Clients written from the original contract (README) may omit the content type; treat bodies as JSON.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.get('/service', async (request) => {
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

  app.post('/ticket', async (request) => {
    const { connTicket } = bodyOf(request);
    if (typeof connTicket !== 'string' || connTicket === '') throw invalidArgument('connTicket is required');
    registry.closeTicket(connTicket);
    return success;
  });

  app.post('/service', async (request) => {
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

  app.delete('/service', async (request) => {
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
  app.put('/service/heartbeat', heartbeat);
  app.post('/heartbeat', heartbeat);

  // uptimeMs lets clients tell a freshly restarted replica (whose registry is still refilling
  // from heartbeats) from one whose registry is complete.
  // A caller's circuit breaker for an instance opened: look-ups pass it over for a while.
  app.post('/service/report', async (request) => {
    const body = bodyOf(request);
    const { serviceName, host } = validateRegistration(body.serviceName, body.host);
    // Any service of the cluster may report an instance it calls; only registered ones are affected.
    if (!allowedNames.has(serviceName)) throw forbidden('not a service of this cluster');
    registry.reportTripped(serviceName, host);
    counters.trippedReports.inc({ service: serviceName });
    logger.warn({ serviceName, host, reporter: callers.get(request)?.instance, reason: typeof body.reason === 'string' ? body.reason.slice(0, 64) : undefined }, 'instance reported tripped by a caller');
    return success;
  });

  app.get('/services', async () => ({ instance: config.INSTANCE_NAME, uptimeMs: clock.now() - startedAt, ...registry.snapshot() }));

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
