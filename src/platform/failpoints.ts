import type { Logger } from './log.js';

// Test-only crash points. A process started with EASEL_FAILPOINTS=a,b (read in its config.ts;
// the launcher never sets it) dies abruptly, as a power cut would, when it reaches step a or b:
// no shutdown hooks, no answer to the caller, open transactions left to the database.

export interface Failpoints {
  /** Kills the process (SIGKILL to itself) when `name` is armed; otherwise does nothing. */
  hit(name: string): void;
}

export const noFailpoints: Failpoints = { hit: () => undefined };

export function createFailpoints(armed: readonly string[], logger?: Logger, die: () => void = () => process.kill(process.pid, 'SIGKILL')): Failpoints {
  if (armed.length === 0) return noFailpoints;
  const names = new Set(armed);
  logger?.warn({ failpoints: [...names] }, 'failpoints armed: this process will kill itself at these steps (tests only)');
  return {
    hit(name) {
      if (!names.has(name)) return;
      // stderr is unbuffered: the line is out before the signal lands.
      process.stderr.write(`failpoint ${name}: SIGKILL\n`);
      die();
    },
  };
}
