import { EventEmitter } from 'node:events';
import { RestartBackoff, type BackoffPolicy } from '../platform/backoff.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { signalGroup as realSignalGroup, type ExitInfo, type RunningChild } from './process.js';
import { signalProcessTree } from './process-tree.js';

export type SupervisorState = 'idle' | 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface SupervisorEventMap {
  spawn: [{ instance: string; pid: number; restarts: number }];
  exit: [{ instance: string; pid: number; code: number | null; signal: NodeJS.Signals | null; expected: boolean; uptimeMs: number }];
  'restart-scheduled': [{ instance: string; attempt: number; delayMs: number }];
  'spawn-failed': [{ instance: string; error: Error }];
}

export interface SupervisorOptions {
  policy: BackoffPolicy;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: number;
  clock?: Clock;
  /** Injected in unit tests; signals the child's whole process group. */
  signalGroup?: (pid: number, signal: NodeJS.Signals) => boolean;
  /**
   * Signals for drills (kill()): by default the process group plus every descendant found in
   * /proc, since PostgreSQL's backends leave the group (setsid). Defaults to `signalGroup` when
   * only that is injected.
   */
  signalNode?: (pid: number, signal: NodeJS.Signals) => boolean;
}

/** The group, then every process of the tree (descendants that left the group included). */
function signalWholeNode(pid: number, signal: NodeJS.Signals): boolean {
  const group = realSignalGroup(pid, signal);
  const tree = signalProcessTree(pid, signal);
  return group || tree;
}

/**
 * Keeps one process running: when it exits without being asked to, the rest of its process
 * group is killed and it is started again after an exponential backoff. Emits events so logs
 * and metrics can follow.
 */
export class Supervisor extends EventEmitter<SupervisorEventMap> {
  state: SupervisorState = 'idle';
  restarts = 0;
  private child: RunningChild | undefined;
  private startedAt = 0;
  private restartTimer: unknown;
  private readonly backoff: RestartBackoff;
  private readonly clock: Clock;
  private readonly signal: (pid: number, signal: NodeJS.Signals) => boolean;
  private readonly signalNode: (pid: number, signal: NodeJS.Signals) => boolean;

  constructor(readonly instance: string, private readonly spawnChild: () => Promise<RunningChild>, private readonly options: SupervisorOptions) {
    super();
    this.backoff = new RestartBackoff(options.policy);
    this.clock = options.clock ?? systemClock;
    this.signal = options.signalGroup ?? realSignalGroup;
    this.signalNode = options.signalNode ?? options.signalGroup ?? signalWholeNode;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process the first time; rejects when it cannot even be spawned. */
  async start(): Promise<RunningChild> {
    this.state = 'starting';
    const child = await this.spawnChild();
    this.adopt(child);
    return child;
  }

  /** The current child's exit (for start-up checks that should fail fast). */
  currentExit(): Promise<ExitInfo> | undefined {
    return this.child?.exited;
  }

  /**
   * Sends a signal to every process of the instance (failure drills: SIGKILL, SIGSTOP/SIGCONT
   * freeze and thaw all of it); the supervisor restarts it when it exits.
   */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const pid = this.child?.pid;
    if (pid === undefined || this.state === 'stopping' || this.state === 'stopped') return false;
    return this.signalNode(pid, signal);
  }

  /**
   * Graceful stop: no more restarts, `signal` (SIGTERM) to the group, SIGKILL after the timeout.
   * start() may be called again afterwards.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child) {
      this.signal(child.pid, signal);
      let forced: unknown;
      await Promise.race([
        child.exited,
        new Promise<void>((resolve) => {
          forced = this.clock.setTimeout(() => {
            this.signal(child.pid, 'SIGKILL');
            resolve();
          }, this.options.stopTimeoutMs);
        }),
      ]);
      this.clock.clearTimeout(forced);
      await child.exited;
      // Whatever the leader left behind in its group goes too.
      this.signal(child.pid, 'SIGKILL');
    }
    this.state = 'stopped';
  }

  private adopt(child: RunningChild): void {
    this.child = child;
    this.startedAt = this.clock.now();
    this.state = 'running';
    this.emit('spawn', { instance: this.instance, pid: child.pid, restarts: this.restarts });
    void child.exited.then((info) => this.onExit(child, info));
  }

  private onExit(child: RunningChild, info: ExitInfo): void {
    if (this.child !== child) return;
    const expected = this.state === 'stopping' || this.state === 'stopped';
    const uptimeMs = this.clock.now() - this.startedAt;
    this.emit('exit', { instance: this.instance, pid: child.pid, code: info.code, signal: info.signal, expected, uptimeMs });
    if (expected) return;
    this.signal(child.pid, 'SIGKILL');
    this.scheduleRestart(uptimeMs);
  }

  private scheduleRestart(uptimeMs: number): void {
    const { attempt, delayMs } = this.backoff.nextDelay(uptimeMs);
    this.state = 'backoff';
    this.emit('restart-scheduled', { instance: this.instance, attempt, delayMs });
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== 'backoff') return;
      this.state = 'starting';
      this.spawnChild().then(
        (child) => {
          this.restarts += 1;
          if (this.state !== 'starting') {
            // stop() was called while spawning.
            this.signal(child.pid, 'SIGKILL');
            return;
          }
          this.adopt(child);
        },
        (error: Error) => {
          this.emit('spawn-failed', { instance: this.instance, error });
          if (this.state === 'starting') this.scheduleRestart(0);
        },
      );
    }, delayMs);
  }
}
