import { describe, expect, it } from 'vitest';
import { nodeProcesses, readProcTable, signalProcessTree, type ProcEntry } from '../../../src/launcher/process-tree.js';

// A PostgreSQL node as /proc shows it: pg_autoctl (group leader 100) runs a postgres supervisor,
// which starts the postmaster; the postmaster and its backends called setsid (their own groups).
const node: ProcEntry[] = [
  { pid: 1, ppid: 0, pgrp: 1 },
  { pid: 100, ppid: 1, pgrp: 100 }, // pg_autoctl keeper
  { pid: 101, ppid: 100, pgrp: 100 }, // pg_autoctl: start/stop postgres
  { pid: 102, ppid: 100, pgrp: 100 }, // pg_autoctl: node-active
  { pid: 200, ppid: 101, pgrp: 200 }, // postmaster, own session
  { pid: 201, ppid: 200, pgrp: 201 }, // backend, own session
  { pid: 202, ppid: 200, pgrp: 202 }, // walsender
  { pid: 300, ppid: 1, pgrp: 300 }, // someone else's process
  { pid: 301, ppid: 1, pgrp: 100 }, // left in the group, reparented to init
];

describe('nodeProcesses', () => {
  it('finds the keeper, the postmaster and every backend, parents first, and nothing else', () => {
    const pids = nodeProcesses(100, node);
    expect(new Set(pids)).toEqual(new Set([100, 101, 102, 200, 201, 202, 301]));
    expect(pids.indexOf(200)).toBeLessThan(pids.indexOf(201));
    expect(pids.indexOf(101)).toBeLessThan(pids.indexOf(200));
    expect(pids).not.toContain(300);
  });
});

describe('signalProcessTree', () => {
  it('signals every process once, including a backend forked after the first walk', () => {
    const tables = [node, [...node, { pid: 203, ppid: 200, pgrp: 203 }]];
    let reads = 0;
    const sent: Array<[number, string]> = [];
    const ok = signalProcessTree(100, 'SIGSTOP', { readTable: () => tables[Math.min(reads++, 1)]!, send: (pid, sig) => sent.push([pid, sig]) });
    expect(ok).toBe(true);
    expect(sent.map(([pid]) => pid).sort((a, b) => a - b)).toEqual([100, 101, 102, 200, 201, 202, 203, 301]);
    expect(new Set(sent.map(([, sig]) => sig))).toEqual(new Set(['SIGSTOP']));
  });

  it('answers false for a node that is gone', () => {
    expect(signalProcessTree(999, 'SIGCONT', { readTable: () => node, send: () => undefined })).toBe(false);
  });

  it('reads this very process from /proc', () => {
    const table = readProcTable();
    expect(table.find((e) => e.pid === process.pid)?.ppid).toBe(process.ppid);
  });
});
