import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../../../src/platform/backoff.js';
import type { ExitInfo, RunningChild } from '../../../src/launcher/process.js';
import { Supervisor } from '../../../src/launcher/supervisor.js';

const policy = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, resetAfterMs: 5_000 };

/** A fake child process whose exit the test controls. */
class FakeChildren {
  readonly spawnedAt: number[] = [];
  readonly signals: Array<[number, string]> = [];
  private exits = new Map<number, (info: ExitInfo) => void>();
  private nextPid = 100;

  spawn = async (): Promise<RunningChild> => {
    const pid = this.nextPid++;
    this.spawnedAt.push(Date.now());
    const exited = new Promise<ExitInfo>((resolve) => this.exits.set(pid, resolve));
    return { pid, exited };
  };

  crash(pid: number): void {
    this.exits.get(pid)?.({ code: null, signal: 'SIGKILL' });
  }

  signalGroup = (pid: number, signal: NodeJS.Signals): boolean => {
    this.signals.push([pid, signal]);
    if (signal === 'SIGTERM' || signal === 'SIGKILL') this.exits.get(pid)?.({ code: 0, signal: null });
    return true;
  };
}

describe('restart backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('Supervisor', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('restarts a crashed process after an exponential backoff and reports each step', async () => {
    const children = new FakeChildren();
    const supervisor = new Supervisor('users-1', children.spawn, { policy, stopTimeoutMs: 1_000, signalGroup: children.signalGroup });
    const scheduled: number[] = [];
    supervisor.on('restart-scheduled', (e) => scheduled.push(e.delayMs));
    const first = await supervisor.start();
    const startedAt = Date.now();

    // Three quick crashes in a row: 100, 200, 400 ms.
    children.crash(first.pid);
    await vi.advanceTimersByTimeAsync(99);
    expect(children.spawnedAt).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(children.spawnedAt).toHaveLength(2);
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(200);
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(400);

    expect(scheduled).toEqual([100, 200, 400]);
    expect(children.spawnedAt.map((t) => t - startedAt)).toEqual([0, 100, 300, 700]);
    expect(supervisor.restarts).toBe(3);
    expect(supervisor.state).toBe('running');
    // What the crashed leader left in its group is killed before the restart.
    expect(children.signals).toContainEqual([first.pid, 'SIGKILL']);
  });

  it('starts over at the initial delay after the process stayed up for a while', async () => {
    const children = new FakeChildren();
    const supervisor = new Supervisor('images-1', children.spawn, { policy, stopTimeoutMs: 1_000, signalGroup: children.signalGroup });
    const scheduled: number[] = [];
    supervisor.on('restart-scheduled', (e) => scheduled.push(e.delayMs));
    await supervisor.start();
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(100);
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(200);
    await vi.advanceTimersByTimeAsync(6_000); // stable for longer than resetAfterMs
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(100);
    expect(scheduled).toEqual([100, 200, 100]);
  });

  it('does not restart what it was asked to stop, and SIGKILLs a process that ignores SIGTERM', async () => {
    const children = new FakeChildren();
    const stubborn = (pid: number, signal: NodeJS.Signals) => {
      children.signals.push([pid, signal]);
      if (signal === 'SIGKILL') children.crash(pid);
      return true;
    };
    const supervisor = new Supervisor('gateway-1', children.spawn, { policy, stopTimeoutMs: 1_000, signalGroup: stubborn });
    const child = await supervisor.start();
    const exits: boolean[] = [];
    supervisor.on('exit', (e) => exits.push(e.expected));
    const stopping = supervisor.stop();
    await vi.advanceTimersByTimeAsync(999);
    expect(children.signals).toEqual([[child.pid, 'SIGTERM']]);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(children.signals.slice(0, 2)).toEqual([[child.pid, 'SIGTERM'], [child.pid, 'SIGKILL']]);
    expect(exits).toEqual([true]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(children.spawnedAt).toHaveLength(1);
    expect(supervisor.state).toBe('stopped');
  });

  it('cancels a pending restart when stopped during the backoff', async () => {
    const children = new FakeChildren();
    const supervisor = new Supervisor('recommendations-1', children.spawn, { policy, stopTimeoutMs: 1_000, signalGroup: children.signalGroup });
    await supervisor.start();
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(10);
    expect(supervisor.state).toBe('backoff');
    await supervisor.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(children.spawnedAt).toHaveLength(1);
  });

  it('keeps trying with backoff when the process cannot even be spawned', async () => {
    const children = new FakeChildren();
    let failures = 2;
    const flaky = async () => {
      if (failures-- > 0) throw new Error('spawn ENOENT');
      return children.spawn();
    };
    const supervisor = new Supervisor('discovery-1', async () => children.spawn(), { policy, stopTimeoutMs: 1_000, signalGroup: children.signalGroup });
    await supervisor.start();
    // From now on spawning fails twice, then works.
    (supervisor as unknown as { spawnChild: () => Promise<RunningChild> }).spawnChild = flaky;
    const failed: string[] = [];
    supervisor.on('spawn-failed', (e) => failed.push(e.error.message));
    children.crash(supervisor.pid!);
    await vi.advanceTimersByTimeAsync(100 + 200 + 400);
    expect(failed).toEqual(['spawn ENOENT', 'spawn ENOENT']);
    expect(supervisor.state).toBe('running');
    expect(supervisor.restarts).toBe(1);
  });
});
