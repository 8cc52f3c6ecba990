import { readdirSync, readFileSync } from 'node:fs';

// Signalling a whole node, not just a process group. PostgreSQL's postmaster and its backends
// call setsid(), so they leave the keeper's process group: a SIGSTOP sent to the group freezes
// pg_autoctl and leaves every open connection answering, and a drill that "freezes" a node that
// way tests nothing. The process tree, read from /proc, is what the node really is.

export interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
}

/** Every process in /proc with its parent and process group (Linux; empty elsewhere). */
export function readProcTable(procRoot = '/proc'): ProcEntry[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const entries: ProcEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`${procRoot}/${name}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      entries.push({ pid: Number(name), ppid: Number(fields[1]), pgrp: Number(fields[2]) });
    } catch {
      // the process ended while we looked
    }
  }
  return entries;
}

/**
 * The processes of a node rooted at `root`: the root, its descendants (recursively, whatever
 * session or group they moved to) and the members of its process group, parents before children.
 */
export function nodeProcesses(root: number, table: readonly ProcEntry[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of table) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry.pid]);
  const ordered: number[] = [];
  const seen = new Set<number>();
  const queue = [root, ...table.filter((e) => e.pgrp === root && e.pid !== root).map((e) => e.pid)];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ordered.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return ordered;
}

export interface SignalTreeOptions {
  readTable?: () => ProcEntry[];
  send?: (pid: number, signal: NodeJS.Signals) => void;
}

/**
 * Sends `signal` to every process of the node rooted at `root`, parents first, and walks the
 * tree again until no new process turns up: a postmaster may fork a backend for a new
 * connection between the walk and its SIGSTOP. False when the root no longer exists.
 */
export function signalProcessTree(root: number, signal: NodeJS.Signals, options: SignalTreeOptions = {}): boolean {
  const readTable = options.readTable ?? readProcTable;
  const send = options.send ?? ((pid, sig) => process.kill(pid, sig));
  const signalled = new Set<number>();
  for (let pass = 0; pass < 5; pass++) {
    const table = readTable();
    if (pass === 0 && !table.some((e) => e.pid === root)) return false;
    const fresh = nodeProcesses(root, table).filter((pid) => !signalled.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      signalled.add(pid);
      try {
        send(pid, signal);
      } catch {
        // it ended meanwhile
      }
    }
  }
  return signalled.size > 0;
}
