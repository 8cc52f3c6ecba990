import type { LaunchCommand } from './process.js';

export type ProcessKind = 'redis' | 'postgres-monitor' | 'postgres' | 'prometheus' | 'postgres-exporter' | 'redis-exporter' | 'discovery' | 'users' | 'images' | 'recommendations' | 'gateway';

/** Parts of the cluster that can be started alone (the test harness starts just what it needs). "prometheus" includes the data stores' exporters. */
export type Component = 'redis' | 'postgres' | 'prometheus' | 'services';

/** One supervised process of the cluster. */
export interface ProcessSpec {
  /** Unique name, e.g. "users-1", "redis-3", "postgres-monitor". */
  instance: string;
  kind: ProcessKind;
  component: Component;
  host: string;
  port: number;
  /** Instances that must be ready before this one starts. */
  after: string[];
  /** Prepares (data directories, config files) and says what to run; called before every (re)start. */
  launch(): Promise<LaunchCommand>;
  /** Readiness probe; never throws. */
  ready(): Promise<boolean>;
  readyTimeoutMs(): number;
  /** Runs once, the first time the process is ready (e.g. create databases). */
  afterFirstReady?(): Promise<void>;
  /** What a person would open or connect to. */
  url: string;
  /** Easel processes: the internal port serving /metrics (METRICS_PORT). */
  metricsPort?: number;
}
