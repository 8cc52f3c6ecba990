import { Pool } from '../http-pool.js';
import { BrokenCircuitError } from 'cockatiel';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { createDiscoveryClient, DiscoveryUnreachableError, type DiscoveryClient, type IssuedTicket } from '../discovery/discovery-client.js';
import { LeastOutstandingBalancer } from './balancer.js';
import { InstanceBreakers, type BreakerState, type InstanceBreakerSettings } from './breaker.js';
import { backoffWithJitter } from '../backoff.js';
import { sleep } from '../wait.js';
import { RetryBudget, type RetryBudgetSettings } from './retry-budget.js';
import { defaultRpcTimeoutMs, sendToOrigin, type RpcRequest, type RpcResponse, type RpcTransport } from './client.js';
import { isDatabaseUnavailableAnswer, isRetryableStatus } from './wire.js';
import type { ServiceCredentials } from '../service-auth.js';

// The RPC transport for services found through discovery. Two balancing modes:
// - snapshot (default): the registry is fetched in the background (about every second) and each
//   call goes to the known instance with the fewest calls outstanding from this process;
// - ticket (the original design's way, docs/departures.md): every call asks discovery for an instance and a ticket
//   (GET /service) and closes the ticket when done (POST /ticket).
// Either way the last snapshot keeps routing while every discovery replica is down, and each
// instance has one keep-alive undici pool.
//
// Resilience: a circuit breaker per instance (an open one is skipped), a bulkhead per instance,
// a per-try timeout inside the call's deadline (sent downstream in x-rpc-timeout-ms), and
// retries on another instance, for calls that are safe to repeat, with exponential backoff and
// jitter, limited by a retry budget. A call that never left (connection refused, open breaker)
// is moved to another instance whatever the method, since nothing reached the callee.

export type BalancingMode = 'snapshot' | 'ticket';

export interface DiscoveryTransportSettings {
  /** "host:port" of every discovery replica. */
  discovery: readonly string[];
  mode: BalancingMode;
  logger: Logger;
  /** This process's credentials: a service token on every call and every discovery request. */
  credentials: ServiceCredentials;
  metrics?: Registry;
  /** Time limit of one attempt on one instance (the call's deadline still bounds it). */
  perTryTimeoutMs?: number;
  /** How often the registry snapshot is refreshed. */
  refreshMs?: number;
  /** Keep-alive connections per instance. */
  connectionsPerInstance?: number;
  /** Bulkhead: the most calls in flight to one instance (default 256); beyond it calls wait for a slot. */
  maxConcurrentPerInstance?: number;
  /** Calls that may wait for a bulkhead slot before new ones are refused (default 1024). */
  maxQueued?: number;
  /** Attempts on different instances for one call. */
  maxAttempts?: number;
  breaker?: InstanceBreakerSettings;
  retryBudget?: RetryBudgetSettings;
  /** Tell discovery when an instance's breaker opens (POST /service/report). Default true. */
  reportTrippedInstances?: boolean;
  /** For tests: a ready-made discovery client. */
  discoveryClient?: DiscoveryClient;
}

export interface DiscoveryTransport extends RpcTransport {
  close(): Promise<void>;
  /** Fetches the registry now (also done in the background). Resolves false if no replica answered. */
  refresh(): Promise<boolean>;
  /** The instances currently known for a service. */
  instancesOf(serviceName: string): readonly string[];
  breakerState(host: string): BreakerState;
}

/** Errors after which the request certainly never reached the instance. */
const notSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND']);
/** True when a failed attempt certainly never reached the instance: any call may then go to another one. */
export const neverSent = (error: unknown) => error instanceof BrokenCircuitError || notSentCodes.has((error as { code?: unknown } | null | undefined)?.code as string);

export function createDiscoveryTransport(settings: DiscoveryTransportSettings): DiscoveryTransport {
  const { logger } = settings;
  const perTryTimeoutMs = settings.perTryTimeoutMs ?? defaultRpcTimeoutMs;
  const refreshMs = settings.refreshMs ?? 1_000;
  const maxAttempts = settings.maxAttempts ?? 3;
  const connections = settings.connectionsPerInstance ?? 64;
  const client = settings.discoveryClient ?? createDiscoveryClient({ discovery: settings.discovery, logger, credentials: settings.credentials, requestTimeoutMs: Math.min(1_000, refreshMs) });
  const balancer = new LeastOutstandingBalancer({ maxOutstanding: settings.maxConcurrentPerInstance ?? 256 });
  const maxQueued = settings.maxQueued ?? 1_024;
  /** Calls waiting for a bulkhead slot, woken one per released slot. */
  const waiting: Array<() => void> = [];
  const budget = new RetryBudget(settings.retryBudget);
  const metrics = settings.metrics ? transportMetrics(settings.metrics) : undefined;

  let instances = new Map<string, readonly string[]>();
  /** host -> service, to label breaker events and report them to discovery. */
  const serviceOf = new Map<string, string>();
  let lastSnapshotAt = 0;
  let discoveryReachable = true;
  let closed = false;
  const pools = new Map<string, Pool>();

  const breakers = new InstanceBreakers({
    ...settings.breaker,
    onStateChange: (host, state) => {
      const serviceName = serviceOf.get(host) ?? 'unknown';
      metrics?.breakerTransitions.inc({ service: serviceName, endpoint: host, state });
      metrics?.breakerState.set({ service: serviceName, endpoint: host }, state === 'closed' ? 0 : state === 'open' ? 1 : 2);
      if (state === 'open') {
        logger.warn({ service: serviceName, instance: host }, 'circuit breaker opened; instance skipped');
        if (settings.reportTrippedInstances !== false && serviceName !== 'unknown') {
          client.reportTripped?.(serviceName, host).catch((error: unknown) => logger.debug({ err: error }, 'could not report tripped instance'));
        }
      } else {
        logger.info({ service: serviceName, instance: host, state }, `circuit breaker ${state}`);
      }
      settings.breaker?.onStateChange?.(host, state);
    },
  });

  const poolFor = (host: string): Pool => {
    let pool = pools.get(host);
    if (!pool) {
      pool = new Pool(`http://${host}`, { connections, pipelining: 1 });
      pools.set(host, pool);
    }
    return pool;
  };

  async function refresh(): Promise<boolean> {
    try {
      const snapshot = await client.snapshot();
      const next = new Map<string, readonly string[]>();
      for (const [serviceName, list] of Object.entries(snapshot.services)) next.set(serviceName, list.map((i) => i.host));
      if (snapshot.uptimeMs < snapshot.leaseMs) {
        // A replica younger than one lease is still hearing from instances: add, never remove.
        for (const [serviceName, hosts] of instances) next.set(serviceName, [...new Set([...(next.get(serviceName) ?? []), ...hosts])]);
      }
      instances = next;
      for (const [serviceName, hosts] of next) for (const host of hosts) serviceOf.set(host, serviceName);
      lastSnapshotAt = Date.now();
      if (!discoveryReachable) logger.info({ replica: snapshot.replica }, 'discovery reachable again; snapshot refreshed');
      discoveryReachable = true;
      retirePools();
      return true;
    } catch (error) {
      if (discoveryReachable) logger.warn({ err: error }, 'no discovery replica answered; routing on the last snapshot');
      discoveryReachable = false;
      return false;
    }
  }

  /** Closes pools of instances that left the registry (their in-flight calls finish first). */
  function retirePools(): void {
    const known = new Set<string>();
    for (const hosts of instances.values()) for (const host of hosts) known.add(host);
    for (const [host, pool] of pools) {
      if (!known.has(host) && balancer.outstandingOn(host) === 0) {
        pools.delete(host);
        breakers.forget(host);
        // Its breaker is gone, so is its series: a gauge left behind would show it open forever.
        metrics?.breakerState.remove({ service: serviceOf.get(host) ?? 'unknown', endpoint: host });
        serviceOf.delete(host);
        void pool.close().catch(() => undefined);
      }
    }
  }

  let pendingRefresh: Promise<boolean> | undefined = refresh().finally(() => (pendingRefresh = undefined));
  const initial = pendingRefresh;
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();

  /** Before the first snapshot arrives, calls wait for a (shared) fetch instead of failing at once. */
  function firstSnapshot(): Promise<boolean> {
    pendingRefresh ??= refresh().finally(() => (pendingRefresh = undefined));
    return pendingRefresh;
  }

  /** One attempt on one instance, through its breaker and its bulkhead slot. */
  async function attempt(host: string, request: RpcRequest): Promise<RpcResponse> {
    balancer.acquire(host);
    try {
      return await breakers.execute(host, () => sendToOrigin(poolFor(host), request, request.perTryTimeoutMs ?? perTryTimeoutMs, settings.credentials));
    } finally {
      balancer.release(host);
      waiting.shift()?.();
    }
  }

  /** Waits for a bulkhead slot to free up, until the call's deadline. */
  async function waitForSlot(request: RpcRequest): Promise<void> {
    if (waiting.length >= maxQueued) {
      throw new AppError('UNAVAILABLE', `every instance of ${request.serviceName} is at its concurrency limit`, { retryAfterSeconds: 1 });
    }
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    waiting.push(wake);
    const timer = setTimeout(wake, Math.max(0, request.deadline - Date.now()));
    await woken;
    clearTimeout(timer);
    const index = waiting.indexOf(wake);
    if (index >= 0) waiting.splice(index, 1);
    if (Date.now() >= request.deadline) throw new AppError('DEADLINE_EXCEEDED', `no ${request.serviceName} instance had room before the deadline`);
  }

  function failure(error: unknown, request: RpcRequest, host: string): AppError {
    if (error instanceof AppError) return error;
    if (Date.now() >= request.deadline) return new AppError('DEADLINE_EXCEEDED', `${request.serviceName} did not answer in time`, { cause: error });
    return new AppError('UNAVAILABLE', `${request.serviceName} unavailable`, { cause: error, retryAfterSeconds: 1, details: { instance: host } });
  }

  /**
   * Decides whether to try another instance after a failed attempt, waiting out the backoff.
   * Returns false when the call must end with the failure it has.
   */
  async function shouldRetry(request: RpcRequest, sent: boolean, retriesSoFar: number, reason: string): Promise<boolean> {
    if (closed || Date.now() >= request.deadline) return false;
    if (sent) {
      if (!request.retryable) return false;
      // Only retries that put load on a service spend the budget.
      if (!budget.tryRetry()) {
        metrics?.retryBudgetExhausted.inc({ service: request.serviceName });
        logger.warn({ service: request.serviceName }, 'retry budget exhausted; not retrying');
        return false;
      }
      const delay = backoffWithJitter(retriesSoFar);
      if (Date.now() + delay >= request.deadline) return false;
      if (delay > 0) await sleep(delay);
    }
    metrics?.retries.inc({ service: request.serviceName, reason });
    return true;
  }

  /** Balances over the snapshot, moving to another instance after a failure that allows it. */
  async function sendBalanced(request: RpcRequest, tried: Set<string>, firstError?: AppError): Promise<RpcResponse> {
    let lastError = firstError;
    let databaseWaits = 0;
    let refreshedForEmpty = false;
    while (tried.size < maxAttempts) {
      const hosts = instances.get(request.serviceName) ?? [];
      const host = balancer.pick(request.serviceName, hosts, (h) => !tried.has(h) && breakers.isAvailable(h));
      if (!host) {
        if (lastError) break;
        if (hosts.length === 0) {
          // The snapshot is up to a refresh old: a service that registered since (a cluster just
          // started, an instance back after a restart) is asked about once before giving up.
          if (!refreshedForEmpty && Date.now() < request.deadline) {
            refreshedForEmpty = true;
            await firstSnapshot();
            continue;
          }
          throw new AppError('UNAVAILABLE', `no live instance of ${request.serviceName}`, { retryAfterSeconds: 1 });
        }
        // Instances that could take the call but are all at their bulkhead limit: wait for room.
        if (balancer.allFull(hosts.filter((h) => !tried.has(h) && breakers.isAvailable(h)))) {
          await waitForSlot(request);
          continue;
        }
        throw new AppError('UNAVAILABLE', `every instance of ${request.serviceName} is failing`, { retryAfterSeconds: 1 });
      }
      tried.add(host);
      let response: RpcResponse;
      try {
        response = await attempt(host, request);
      } catch (error) {
        lastError = failure(error, request, host);
        if (error instanceof AppError) throw lastError; // the deadline passed before sending
        const sent = !neverSent(error);
        logger.debug({ err: error, host, service: request.serviceName, sent }, 'rpc attempt failed');
        if (!(await shouldRetry(request, sent, tried.size - 1, sent ? 'failure' : 'not-sent'))) throw lastError;
        continue;
      }
      if (request.retryable && isDatabaseUnavailableAnswer(response.status, response.body)) {
        // The database is failing over: any instance will do once it is back. Bounded by the deadline.
        if (!(await shouldRetry(request, true, Math.min(5, ++databaseWaits), 'database'))) return response;
        // Another instance first (it may have reconnected already); once every one was asked, start over.
        if ((instances.get(request.serviceName) ?? []).every((h) => tried.has(h)) || tried.size >= maxAttempts) tried.clear();
        continue;
      }
      if (isRetryableStatus(response.status) && tried.size < maxAttempts && (instances.get(request.serviceName) ?? []).some((h) => !tried.has(h))) {
        if (await shouldRetry(request, true, tried.size - 1, 'status')) continue;
      }
      return response;
    }
    throw lastError ?? new AppError('UNAVAILABLE', `no live instance of ${request.serviceName}`, { retryAfterSeconds: 1 });
  }

  async function sendWithTicket(request: RpcRequest): Promise<RpcResponse> {
    let ticket: IssuedTicket;
    try {
      ticket = await client.issueTicket(request.serviceName);
    } catch (error) {
      // Discovery is down: keep routing on the last snapshot. A replica's own answer ("no live
      // instance") stands.
      if (error instanceof DiscoveryUnreachableError) return sendBalanced(request, new Set());
      throw error;
    }
    serviceOf.set(ticket.host, request.serviceName);
    const tried = new Set([ticket.host]);
    try {
      // Discovery balances by tickets but does not know this process's breakers: skip an open one.
      if (!breakers.isAvailable(ticket.host)) return await sendBalanced(request, tried);
      let response: RpcResponse;
      try {
        response = await attempt(ticket.host, request);
      } catch (error) {
        const appError = failure(error, request, ticket.host);
        if (error instanceof AppError) throw appError;
        const sent = !neverSent(error);
        if (!(await shouldRetry(request, sent, 0, sent ? 'failure' : 'not-sent'))) throw appError;
        return await sendBalanced(request, tried, appError);
      }
      if (request.retryable && isDatabaseUnavailableAnswer(response.status, response.body)) {
        if (await shouldRetry(request, true, 0, 'database')) return await sendBalanced(request, new Set());
        return response;
      }
      if (isRetryableStatus(response.status) && (instances.get(request.serviceName) ?? []).some((h) => !tried.has(h))) {
        if (await shouldRetry(request, true, 0, 'status')) return await sendBalanced(request, tried);
      }
      return response;
    } finally {
      // Closing is bookkeeping for discovery's balancing; the caller need not wait for it.
      client.closeTicket(ticket).catch((error: unknown) => logger.debug({ err: error }, 'could not close ticket; it will expire'));
    }
  }

  return {
    async send(request) {
      if (closed) throw new AppError('UNAVAILABLE', 'rpc transport closed');
      if (lastSnapshotAt === 0) await firstSnapshot();
      budget.recordCall();
      const started = performance.now();
      try {
        const response = settings.mode === 'ticket' ? await sendWithTicket(request) : await sendBalanced(request, new Set());
        metrics?.calls.inc({ service: request.serviceName, outcome: response.status < 500 ? 'ok' : 'error' });
        return response;
      } catch (error) {
        metrics?.calls.inc({ service: request.serviceName, outcome: 'failed' });
        throw error;
      } finally {
        metrics?.duration.observe({ service: request.serviceName }, (performance.now() - started) / 1000);
      }
    },
    refresh,
    instancesOf: (serviceName) => instances.get(serviceName) ?? [],
    breakerState: (host) => breakers.state(host),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      metrics?.stop();
      await initial;
      await Promise.all([...pools.values()].map((pool) => pool.close().catch(() => undefined)));
      pools.clear();
      await client.close();
    },
  };

  function transportMetrics(registry: Registry) {
    // Several transports may share one process registry: reuse a metric already registered.
    const metric = <T>(name: string, create: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? create();
    const snapshotAge = metric('rpc_client_snapshot_age_seconds', () =>
      new Gauge({ name: 'rpc_client_snapshot_age_seconds', help: 'Age of the registry snapshot the RPC client routes on', registers: [registry] }));
    const collector = setInterval(() => snapshotAge.set(lastSnapshotAt === 0 ? 0 : (Date.now() - lastSnapshotAt) / 1000), 1_000);
    collector.unref();
    return {
      stop: () => clearInterval(collector),
      calls: metric('rpc_client_calls_total', () =>
        new Counter({ name: 'rpc_client_calls_total', help: 'RPC calls by target service and outcome', labelNames: ['service', 'outcome'], registers: [registry] })),
      retries: metric('rpc_client_retries_total', () =>
        new Counter({ name: 'rpc_client_retries_total', help: 'RPC attempts repeated on another instance, by reason', labelNames: ['service', 'reason'], registers: [registry] })),
      retryBudgetExhausted: metric('rpc_client_retry_budget_exhausted_total', () =>
        new Counter({ name: 'rpc_client_retry_budget_exhausted_total', help: 'Retries refused because the retry budget was spent', labelNames: ['service'], registers: [registry] })),
      breakerTransitions: metric('rpc_client_breaker_transitions_total', () =>
        new Counter({ name: 'rpc_client_breaker_transitions_total', help: 'Circuit breaker state changes per instance', labelNames: ['service', 'endpoint', 'state'], registers: [registry] })),
      breakerState: metric('rpc_client_breaker_state', () =>
        new Gauge({ name: 'rpc_client_breaker_state', help: 'Circuit breaker state per instance: 0 closed, 1 open, 2 half-open', labelNames: ['service', 'endpoint'], registers: [registry] })),
      duration: metric('rpc_client_call_duration_seconds', () =>
        new Histogram({
          name: 'rpc_client_call_duration_seconds',
          help: 'RPC call latency by target service, retries included',
          labelNames: ['service'],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers: [registry],
        })),
    };
  }
}
