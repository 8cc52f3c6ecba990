// Local load balancing over a service's known instances: the instance with the fewest requests
// outstanding from this process, round-robin among ties (so an idle system still spreads calls).
// It doubles as the bulkhead: an instance with `maxOutstanding` calls in flight takes no more.

export interface BalancerSettings {
  /** Bulkhead: the most calls in flight to one instance from this process. */
  maxOutstanding?: number;
}

export class LeastOutstandingBalancer {
  private readonly outstanding = new Map<string, number>();
  private readonly cursors = new Map<string, number>();
  readonly maxOutstanding: number;

  constructor(settings: BalancerSettings = {}) {
    this.maxOutstanding = settings.maxOutstanding ?? Infinity;
  }

  /**
   * Picks one of `hosts`, or undefined when `eligible` rejects them all or all are at the
   * bulkhead limit. The cursor is per service so services do not disturb each other's rotation.
   */
  pick(serviceName: string, hosts: readonly string[], eligible?: (host: string) => boolean): string | undefined {
    const count = hosts.length;
    if (count === 0) return undefined;
    const start = (this.cursors.get(serviceName) ?? 0) % count;
    let best = -1;
    let bestLoad = Infinity;
    for (let i = 0; i < count; i++) {
      const index = (start + i) % count;
      const host = hosts[index]!;
      const load = this.outstanding.get(host) ?? 0;
      if (load >= this.maxOutstanding || load >= bestLoad) continue;
      if (eligible && !eligible(host)) continue;
      best = index;
      bestLoad = load;
      if (load === 0) break;
    }
    if (best < 0) return undefined;
    this.cursors.set(serviceName, best + 1);
    return hosts[best];
  }

  /** Whether every one of `hosts` is at the bulkhead limit. */
  allFull(hosts: readonly string[]): boolean {
    return hosts.length > 0 && hosts.every((host) => (this.outstanding.get(host) ?? 0) >= this.maxOutstanding);
  }

  acquire(host: string): void {
    this.outstanding.set(host, (this.outstanding.get(host) ?? 0) + 1);
  }

  release(host: string): void {
    const load = (this.outstanding.get(host) ?? 1) - 1;
    if (load <= 0) this.outstanding.delete(host);
    else this.outstanding.set(host, load);
  }

  outstandingOn(host: string): number {
    return this.outstanding.get(host) ?? 0;
  }
}
