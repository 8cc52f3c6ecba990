import { describe, expect, it } from 'vitest';
import { NodeHealth } from '../../../../src/platform/cache/node-health.js';
import { manualClock } from '../../../fakes/manual-clock.js';


describe('NodeHealth', () => {
  it('starts down and due for a probe at once, and has never been up', () => {
    const clock = manualClock(1_000);
    const health = new NodeHealth({ clock });
    expect(health.current).toEqual({ state: 'down', since: 1_000, nextProbeAt: 1_000, failedProbes: 0, reason: 'not connected yet' });
    expect(health.isProbeDue()).toBe(true);
    expect(health.everUp).toBe(false);
  });

  it('goes down on a failure, waits the initial delay, and backs off exponentially up to the cap', () => {
    const clock = manualClock(1_000);
    const health = new NodeHealth({ clock, initial: 'up', backoff: { initialMs: 100, maxMs: 1_000, multiplier: 2 } });
    expect(health.markDown('get failed: Command timed out')).toBe(true);
    expect(health.markDown('again')).toBe(false);
    expect(health.current).toMatchObject({ state: 'down', since: 1_000, nextProbeAt: 1_100, reason: 'get failed: Command timed out' });
    expect(health.isProbeDue()).toBe(false);
    clock.advance(99);
    expect(health.isProbeDue()).toBe(false);
    expect(health.msUntilProbe()).toBe(1);
    clock.advance(1);
    expect(health.isProbeDue()).toBe(true);

    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      health.probeFailed();
      delays.push(health.msUntilProbe()!);
      clock.advance(delays.at(-1)!);
    }
    expect(delays).toEqual([200, 400, 800, 1_000, 1_000]);
    expect(health.current).toMatchObject({ state: 'down', since: 1_000, failedProbes: 5 });
  });

  it('comes back up after a successful probe, remembering it has been up', () => {
    const clock = manualClock(1_000);
    const health = new NodeHealth({ clock });
    clock.advance(50);
    expect(health.markUp()).toBe(true);
    expect(health.markUp()).toBe(false);
    expect(health.current).toEqual({ state: 'up', since: 1_050 });
    expect(health.everUp).toBe(true);
    expect(health.isProbeDue()).toBe(false);
    expect(health.msUntilProbe()).toBeUndefined();
    health.markDown('connection closed');
    clock.advance(250);
    expect(health.isProbeDue()).toBe(true);
    health.markUp();
    // A fresh outage starts its backoff from the beginning.
    health.markDown('x');
    expect(health.current).toMatchObject({ failedProbes: 0, nextProbeAt: 1_300 + 250 });
  });
});
