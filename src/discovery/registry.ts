import { randomBytes } from 'node:crypto';
import { AppError, invalidArgument, notFound } from '../platform/errors.js';
import { systemClock, type Clock } from '../platform/clock.js';

// The registry of live service instances, their leases and their connection tickets.
// Pure logic over an injected clock: nothing here touches the network or real timers.
// Expiry is evaluated lazily on every operation, so an instance is gone at exactly
// last heartbeat + lease and a ticket at exactly issue + TTL, whatever the sweep interval.

export interface RegistrySettings {
  leaseMs: number;
  ticketTtlMs: number;
  clock?: Clock;
  /** Called once per instance removed because its lease ran out. */
  onEvicted?: (serviceName: string, host: string) => void;
}

export interface InstanceView {
  host: string;
  /** Where Prometheus scrapes it ("host:port"), when it said. */
  metrics?: string;
  openTickets: number;
  /** A caller reported its breaker open; look-ups pass it over for now. */
  suspect: boolean;
  registeredAt: number;
  lastHeartbeat: number;
  leaseExpiresAt: number;
}

export interface RegistrySnapshot {
  /** Bumped whenever the set of instances changes (register, deregister, eviction). */
  version: number;
  leaseMs: number;
  services: Record<string, InstanceView[]>;
}

export interface Ticket {
  host: string;
  connTicket: string;
}

interface Instance {
  host: string;
  metrics: string | undefined;
  registeredAt: number;
  lastHeartbeat: number;
  /** A caller's circuit breaker for it opened: passed over by look-ups until then. */
  suspectUntil: number;
}

interface TicketRecord {
  serviceName: string;
  host: string;
  expiresAt: number;
}

const hostPattern = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/;
/** Longest service name accepted: every name is also a metric label and a log field. */
export const maxServiceNameLength = 64;

/** "host:port" with a real port (1-65535); the host part as registered, brackets kept. */
export function parseHost(host: unknown): { hostname: string; port: number } | undefined {
  if (typeof host !== 'string') return undefined;
  const match = hostPattern.exec(host);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? { hostname: match[1]!, port } : undefined;
}

export function validateRegistration(serviceName: unknown, host: unknown): { serviceName: string; host: string } {
  if (typeof serviceName !== 'string' || serviceName.trim() === '') throw invalidArgument('serviceName is required');
  if (serviceName.length > maxServiceNameLength) throw invalidArgument(`serviceName must be at most ${maxServiceNameLength} characters`);
  if (!parseHost(host)) throw invalidArgument('host must be "host:port" with a port from 1 to 65535');
  return { serviceName, host: host as string };
}

export class ServiceRegistry {
  readonly leaseMs: number;
  readonly ticketTtlMs: number;
  private readonly clock: Clock;
  private readonly onEvicted: RegistrySettings['onEvicted'];
  /** serviceName -> host -> instance, in registration order (the round-robin order). */
  private readonly services = new Map<string, Map<string, Instance>>();
  private readonly tickets = new Map<string, TicketRecord>();
  /** serviceName -> index where the next round-robin scan starts. */
  private readonly cursors = new Map<string, number>();
  private membershipVersion = 0;

  constructor(settings: RegistrySettings) {
    this.leaseMs = settings.leaseMs;
    this.ticketTtlMs = settings.ticketTtlMs;
    this.clock = settings.clock ?? systemClock;
    this.onEvicted = settings.onEvicted;
  }

  get version(): number {
    this.expire();
    return this.membershipVersion;
  }

  /** Adds an instance, or renews its lease if it is already known. Returns whether it was new. */
  register(serviceName: string, host: string, metrics?: string): boolean {
    this.expire();
    const now = this.clock.now();
    let instances = this.services.get(serviceName);
    if (!instances) {
      instances = new Map();
      this.services.set(serviceName, instances);
    }
    const existing = instances.get(host);
    if (existing) {
      existing.lastHeartbeat = now;
      if (metrics !== undefined) existing.metrics = metrics;
      return false;
    }
    instances.set(host, { host, metrics, registeredAt: now, lastHeartbeat: now, suspectUntil: 0 });
    this.membershipVersion++;
    return true;
  }

  /** Renews a lease. Throws NOT_FOUND for an unknown instance so it registers again. */
  heartbeat(serviceName: string, host: string): void {
    this.expire();
    const instance = this.services.get(serviceName)?.get(host);
    if (!instance) throw notFound(`${serviceName} at ${host} is not registered`);
    instance.lastHeartbeat = this.clock.now();
  }

  /**
   * A caller reports that its circuit breaker for the instance opened. Look-ups pass over it
   * for `forMs` (while any other instance is not suspect); its lease is untouched, so a
   * healthy instance is back in rotation soon and a dead one is evicted as usual.
   */
  reportTripped(serviceName: string, host: string, forMs = this.leaseMs): void {
    this.expire();
    const instance = this.services.get(serviceName)?.get(host);
    if (!instance) throw notFound(`${serviceName} at ${host} is not registered`);
    instance.suspectUntil = Math.max(instance.suspectUntil, this.clock.now() + forMs);
  }

  deregister(serviceName: string, host: string): void {
    this.expire();
    const instances = this.services.get(serviceName);
    if (!instances?.has(host)) throw notFound(`${serviceName} at ${host} is not registered`);
    this.remove(serviceName, host);
  }

  /**
   * The original's load balancing: the instance with the fewest open tickets, round-robin
   * among ties, and a new ticket for it.
   */
  issueTicket(serviceName: string): Ticket {
    this.expire();
    const instances = [...(this.services.get(serviceName)?.values() ?? [])];
    if (instances.length === 0) {
      throw new AppError('UNAVAILABLE', `no live instance of ${serviceName}`, { retryAfterSeconds: 1 });
    }
    const open = this.openTicketCounts(serviceName);
    const now = this.clock.now();
    const anyTrusted = instances.some((instance) => instance.suspectUntil <= now);
    const start = (this.cursors.get(serviceName) ?? 0) % instances.length;
    let best = -1;
    let bestCount = Infinity;
    for (let i = 0; i < instances.length; i++) {
      const index = (start + i) % instances.length;
      if (anyTrusted && instances[index]!.suspectUntil > now) continue;
      const count = open.get(instances[index]!.host) ?? 0;
      if (count < bestCount) {
        best = index;
        bestCount = count;
      }
    }
    this.cursors.set(serviceName, best + 1);
    const host = instances[best]!.host;
    const connTicket = randomBytes(8).toString('hex').toUpperCase();
    this.tickets.set(connTicket, { serviceName, host, expiresAt: this.clock.now() + this.ticketTtlMs });
    return { host, connTicket };
  }

  closeTicket(connTicket: string): void {
    this.expire();
    if (!this.tickets.delete(connTicket)) throw notFound('unknown or expired ticket');
  }

  openTickets(): number {
    this.expire();
    return this.tickets.size;
  }

  snapshot(): RegistrySnapshot {
    this.expire();
    const services: Record<string, InstanceView[]> = {};
    const now = this.clock.now();
    for (const [serviceName, instances] of this.services) {
      const open = this.openTicketCounts(serviceName);
      services[serviceName] = [...instances.values()].map((instance) => ({
        host: instance.host,
        ...(instance.metrics === undefined ? {} : { metrics: instance.metrics }),
        openTickets: open.get(instance.host) ?? 0,
        suspect: instance.suspectUntil > now,
        registeredAt: instance.registeredAt,
        lastHeartbeat: instance.lastHeartbeat,
        leaseExpiresAt: instance.lastHeartbeat + this.leaseMs,
      }));
    }
    return { version: this.membershipVersion, leaseMs: this.leaseMs, services };
  }

  /** Evicts lapsed leases and expired tickets. Called by every operation; a timer may call it too. */
  expire(): void {
    const now = this.clock.now();
    for (const [serviceName, instances] of this.services) {
      for (const instance of [...instances.values()]) {
        if (now >= instance.lastHeartbeat + this.leaseMs) {
          this.remove(serviceName, instance.host);
          this.onEvicted?.(serviceName, instance.host);
        }
      }
    }
    for (const [id, ticket] of this.tickets) {
      if (now >= ticket.expiresAt) this.tickets.delete(id);
    }
  }

  private remove(serviceName: string, host: string): void {
    const instances = this.services.get(serviceName);
    if (!instances?.delete(host)) return;
    if (instances.size === 0) {
      this.services.delete(serviceName);
      this.cursors.delete(serviceName);
    }
    // Tickets of a departed instance would otherwise skew balancing if it came back.
    for (const [id, ticket] of this.tickets) {
      if (ticket.serviceName === serviceName && ticket.host === host) this.tickets.delete(id);
    }
    this.membershipVersion++;
  }

  private openTicketCounts(serviceName: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const ticket of this.tickets.values()) {
      if (ticket.serviceName === serviceName) counts.set(ticket.host, (counts.get(ticket.host) ?? 0) + 1);
    }
    return counts;
  }
}
