import { describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../../src/discovery/registry.js';
import { AppError } from '../../../src/platform/errors.js';
import { manualClock } from '../../fakes/manual-clock.js';

function setup(options: { leaseMs?: number; ticketTtlMs?: number } = {}) {
  const clock = manualClock();
  const evicted: string[] = [];
  const registry = new ServiceRegistry({
    leaseMs: options.leaseMs ?? 5_000,
    ticketTtlMs: options.ticketTtlMs ?? 30_000,
    clock,
    onEvicted: (service, host) => evicted.push(`${service}@${host}`),
  });
  return { clock, registry, evicted };
}

const hostsOf = (registry: ServiceRegistry, service: string) => (registry.snapshot().services[service] ?? []).map((i) => i.host);

describe('leases', () => {
  it('evicts an instance at exactly last heartbeat + lease, not a millisecond earlier', () => {
    const { clock, registry, evicted } = setup();
    registry.register('USER SERVICE', 'localhost:3799');
    clock.advance(3_000);
    registry.heartbeat('USER SERVICE', 'localhost:3799');
    clock.advance(4_999);
    expect(hostsOf(registry, 'USER SERVICE')).toEqual(['localhost:3799']);
    clock.advance(1);
    expect(hostsOf(registry, 'USER SERVICE')).toEqual([]);
    expect(evicted).toEqual(['USER SERVICE@localhost:3799']);
  });

  it('keeps an instance alive as long as it heartbeats', () => {
    const { clock, registry } = setup();
    registry.register('USER SERVICE', 'a:1');
    for (let i = 0; i < 20; i++) {
      clock.advance(1_000);
      registry.heartbeat('USER SERVICE', 'a:1');
    }
    expect(hostsOf(registry, 'USER SERVICE')).toEqual(['a:1']);
  });

  it('answers a heartbeat from an evicted instance with NOT_FOUND so it registers again', () => {
    const { clock, registry } = setup();
    registry.register('USER SERVICE', 'a:1');
    clock.advance(5_000);
    expect(() => registry.heartbeat('USER SERVICE', 'a:1')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(registry.register('USER SERVICE', 'a:1')).toBe(true);
    expect(hostsOf(registry, 'USER SERVICE')).toEqual(['a:1']);
  });

  it('bumps the version on membership changes only', () => {
    const { clock, registry } = setup();
    const v0 = registry.version;
    registry.register('S', 'a:1');
    const v1 = registry.version;
    expect(v1).toBeGreaterThan(v0);
    registry.register('S', 'a:1');
    registry.heartbeat('S', 'a:1');
    expect(registry.version).toBe(v1);
    registry.deregister('S', 'a:1');
    const v2 = registry.version;
    expect(v2).toBeGreaterThan(v1);
    registry.register('S', 'b:1');
    clock.advance(5_000);
    expect(registry.version).toBeGreaterThan(v2 + 1);
  });

  it('deregistering an unknown instance is NOT_FOUND', () => {
    const { registry } = setup();
    expect(() => registry.deregister('S', 'a:1')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('tickets and balancing', () => {
  it('picks the instance with the fewest open tickets', () => {
    const { registry } = setup();
    for (const host of ['a:1', 'b:1', 'c:1']) registry.register('S', host);
    // Hold two tickets on a, one on b, none on c.
    const held = new Map<string, string[]>();
    const take = () => {
      const t = registry.issueTicket('S');
      held.set(t.host, [...(held.get(t.host) ?? []), t.connTicket]);
      return t;
    };
    const first = [take(), take(), take()].map((t) => t.host);
    expect(new Set(first)).toEqual(new Set(['a:1', 'b:1', 'c:1']));
    // Close both tickets held on b: b now has the fewest.
    for (const ticket of held.get('b:1')!) registry.closeTicket(ticket);
    expect(registry.issueTicket('S').host).toBe('b:1');
    // Close c's ticket: c is alone with 0.
    for (const ticket of held.get('c:1')!) registry.closeTicket(ticket);
    expect(registry.issueTicket('S').host).toBe('c:1');
  });

  it('goes round-robin among ties', () => {
    const { registry } = setup();
    for (const host of ['a:1', 'b:1', 'c:1']) registry.register('S', host);
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const ticket = registry.issueTicket('S');
      picks.push(ticket.host);
      registry.closeTicket(ticket.connTicket);
    }
    expect(picks).toEqual(['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
  });

  it('lets leaked tickets expire on their own at exactly the TTL', () => {
    const { clock, registry } = setup({ ticketTtlMs: 10_000, leaseMs: 60_000 });
    registry.register('S', 'a:1');
    registry.register('S', 'b:1');
    const leaked = [registry.issueTicket('S'), registry.issueTicket('S'), registry.issueTicket('S')];
    expect(registry.openTickets()).toBe(3);
    const openOn = (host: string) => registry.snapshot().services.S!.find((i) => i.host === host)!.openTickets;
    expect(openOn('a:1') + openOn('b:1')).toBe(3);
    clock.advance(9_999);
    expect(registry.openTickets()).toBe(3);
    clock.advance(1);
    expect(registry.openTickets()).toBe(0);
    expect(() => registry.closeTicket(leaked[0]!.connTicket)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('closing a ticket twice is NOT_FOUND the second time', () => {
    const { registry } = setup();
    registry.register('S', 'a:1');
    const ticket = registry.issueTicket('S');
    registry.closeTicket(ticket.connTicket);
    expect(() => registry.closeTicket(ticket.connTicket)).toThrow(AppError);
  });

  it('fails with UNAVAILABLE and a retry hint when a service has no live instance', () => {
    const { clock, registry } = setup();
    expect(() => registry.issueTicket('S')).toThrow(expect.objectContaining({ code: 'UNAVAILABLE', retryAfterSeconds: 1 }));
    registry.register('S', 'a:1');
    clock.advance(5_000);
    expect(() => registry.issueTicket('S')).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
  });

  it('drops the tickets of an evicted instance', () => {
    const { clock, registry } = setup({ leaseMs: 5_000 });
    registry.register('S', 'a:1');
    registry.issueTicket('S');
    registry.issueTicket('S');
    clock.advance(5_000);
    registry.register('S', 'a:1');
    expect(registry.snapshot().services.S![0]!.openTickets).toBe(0);
  });

  it('passes over an instance a caller reported tripped, until the report lapses', () => {
    const { clock, registry } = setup({ leaseMs: 60_000 });
    for (const host of ['a:1', 'b:1']) registry.register('S', host);
    registry.reportTripped('S', 'a:1', 5_000);
    const picks = Array.from({ length: 4 }, () => registry.issueTicket('S').host);
    expect(picks).toEqual(['b:1', 'b:1', 'b:1', 'b:1']);
    expect(registry.snapshot().services.S!.find((i) => i.host === 'a:1')!.suspect).toBe(true);
    clock.advance(5_000);
    expect(registry.issueTicket('S').host).toBe('a:1');
  });

  it('still answers when every instance is reported tripped', () => {
    const { registry } = setup();
    registry.register('S', 'a:1');
    registry.reportTripped('S', 'a:1');
    expect(registry.issueTicket('S').host).toBe('a:1');
  });
});
