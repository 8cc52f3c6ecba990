import { readFileSync } from 'node:fs';
import type { ClusterLayout } from './layout.js';
import { layoutPaths } from './layout.js';

/** What a running launcher records in <dataDir>/launcher.json so `easel status` etc. can find it. */
export interface LauncherState {
  pid: number;
  controlPort: number;
  /** Sent as x-easel-token with every control request. */
  token?: string;
  startedAt: string;
  dataDir: string;
}

export function readLauncherState(layout: ClusterLayout): LauncherState | undefined {
  try {
    return JSON.parse(readFileSync(layoutPaths(layout).launcherState, 'utf8')) as LauncherState;
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a file ('' when missing). */
export function tailFile(path: string, lines: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
