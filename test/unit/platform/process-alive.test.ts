import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { processAlive } from '../../../src/platform/process-alive.js';

describe('processAlive', () => {
  it('is true for a running process and false once it has exited', async () => {
    expect(processAlive(process.pid)).toBe(true);
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(child, 'exit');
    expect(processAlive(child.pid!)).toBe(false);
  });

  it('with { group: true }, follows a whole process group', async () => {
    const leader = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore', detached: true });
    await once(leader, 'spawn');
    expect(processAlive(leader.pid!, { group: true })).toBe(true);
    process.kill(-leader.pid!, 'SIGKILL');
    await once(leader, 'exit');
    expect(processAlive(leader.pid!, { group: true })).toBe(false);
  });

  it('never signals for a pid that is not a real process id (0 would mean our own group)', () => {
    for (const pid of [0, -1, 1.5, Number.NaN]) expect(processAlive(pid)).toBe(false);
  });
});
