import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { childEnv } from './exec.js';
import type { ChildEnvironment } from './config.js';
import type { RunAs } from './system-user.js';

/** What to run for one process; computed afresh before every (re)start. */
export interface LaunchCommand {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  runAs?: RunAs | undefined;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started child: the leader of its own process group. */
export interface RunningChild {
  pid: number;
  exited: Promise<ExitInfo>;
}

/**
 * Starts a command in its own process group (so it and everything it forks can be signalled
 * together: no orphans), from `environment` plus its own settings, with stdout and stderr
 * appended to `logPath`.
 */
export function spawnInGroup(launch: LaunchCommand, logPath: string, environment: ChildEnvironment): Promise<RunningChild> {
  appendFileSync(logPath, `\n--- ${new Date().toISOString()} starting: ${launch.command} ${launch.args.join(' ')}\n`);
  const fd = openSync(logPath, 'a');
  return new Promise((resolve, reject) => {
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd ?? '/',
      env: childEnv(environment, launch.env, launch.runAs),
      stdio: ['ignore', fd, fd],
      detached: true,
      ...(launch.runAs ? { uid: launch.runAs.uid, gid: launch.runAs.gid } : {}),
    });
    closeSync(fd);
    const exited = new Promise<ExitInfo>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    child.once('error', (error) => reject(new Error(`cannot start ${launch.command}: ${error.message}`)));
    child.once('spawn', () => {
      if (child.pid === undefined) reject(new Error(`cannot start ${launch.command}`));
      else resolve({ pid: child.pid, exited });
    });
  });
}

/** Signals a whole process group; false when it no longer exists. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
