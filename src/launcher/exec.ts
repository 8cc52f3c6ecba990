import { spawn } from 'node:child_process';
import type { RunAs } from './system-user.js';
import type { ChildEnvironment } from './config.js';

export interface RunOptions {
  /** What the command starts from: the launcher's environment (config.ts). */
  environment: ChildEnvironment;
  runAs?: RunAs | undefined;
  /** Settings added on top of `environment`. */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion (initdb, pg_autoctl show ...), capturing its output. */
export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? '/',
      env: childEnv(options.environment, options.env, options.runAs),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = options.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
      : undefined;
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${command} could not start: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Like runCommand, but a non-zero exit is an error that carries the output's tail. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${tail}`);
  }
  return result;
}

/** The environment for a child: the launcher's plus extras; HOME follows the user it runs as. */
export function childEnv(environment: ChildEnvironment, extra: Record<string, string> | undefined, runAs: RunAs | undefined): Record<string, string> {
  return { ...environment, ...(runAs ? { HOME: runAs.home, USER: 'postgres', LOGNAME: 'postgres' } : {}), ...extra };
}
