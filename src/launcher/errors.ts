import { EaselError } from '../platform/errors.js';

// The launcher's errors, each with a stable code; callers branch on `errorCode(error)`.

export class LayoutError extends EaselError {
  static readonly code = 'LAYOUT_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source: string) {
    super(LayoutError.code, `invalid cluster layout (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export class NotReadyError extends EaselError {
  static readonly code = 'NOT_READY';
  constructor(message: string, readonly exited: boolean) {
    super(NotReadyError.code, message);
  }
}

/** A process did not come up; the message names it and ends with the tail of its log. */
export class ClusterStartError extends EaselError {
  static readonly code = 'CLUSTER_START_FAILED';
  constructor(readonly instance: string, readonly reason: string, readonly logTail: string, readonly logPath: string) {
    super(ClusterStartError.code, `${instance} failed to start: ${reason}\n--- last lines of ${logPath} ---\n${logTail || '(empty)'}\n---`);
  }
}

export class ClusterInterruptedError extends EaselError {
  static readonly code = 'CLUSTER_INTERRUPTED';
  constructor() {
    super(ClusterInterruptedError.code, 'start-up interrupted; everything that had started was stopped');
  }
}

export class UnknownInstanceError extends EaselError {
  static readonly code = 'UNKNOWN_INSTANCE';
  constructor(instance: string, known: readonly string[]) {
    super(UnknownInstanceError.code, `no instance "${instance}"; known: ${known.join(', ')}`);
  }
}
