import { Pool } from '../http-pool.js';
import type { Logger } from '../log.js';
import { requestReplica } from './discovery-client.js';
import type { ServiceCredentials } from '../service-auth.js';

// An instance's membership in discovery: it registers with every discovery replica, renews
// its lease there about every second, registers again with a replica that forgot it (one that
// restarted: its heartbeat answer is 404), and deregisters from all of them on shutdown.
// Discovery replicas are independent, so each gets its own loop and a dead one delays nobody.

export interface RegistrationSettings {
  /** "host:port" of every discovery replica. */
  discovery: readonly string[];
  /** The name callers look up, e.g. "USER SERVICE". */
  serviceName: string;
  /** Where this instance serves, e.g. "127.0.0.1:4711". */
  host: string;
  logger: Logger;
  /** Proves to discovery that this process is an instance of `serviceName` (its identity must name it). */
  credentials: ServiceCredentials;
  /** This instance's metrics port (same host), listed by discovery as a Prometheus target. */
  metricsPort?: number;
  heartbeatMs?: number;
  /** Per request to one replica; defaults to the heartbeat interval, at most 1 s. */
  requestTimeoutMs?: number;
}

export interface Registration {
  /** Deregisters from every replica (DELETE /service). Never throws. */
  stop(): Promise<void>;
  /** Replicas that currently hold this instance's registration. */
  registeredWith(): string[];
  /** Resolves once at least one replica holds the registration. */
  ready(): Promise<void>;
}

interface ReplicaState {
  replica: string;
  pool: Pool;
  registered: boolean;
  /** Whether the last attempt reached the replica; failures are logged once per outage. */
  reachable: boolean;
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<void> | undefined;
}

export function startRegistration(settings: RegistrationSettings): Registration {
  const heartbeatMs = settings.heartbeatMs ?? 1_000;
  const timeoutMs = settings.requestTimeoutMs ?? Math.min(heartbeatMs, 1_000);
  const identity = { serviceName: settings.serviceName, host: settings.host, ...(settings.metricsPort === undefined ? {} : { metricsPort: settings.metricsPort }) };
  const log = settings.logger.child({ serviceName: settings.serviceName, host: settings.host });
  let stopped = false;
  let markReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));

  const states: ReplicaState[] = settings.discovery.map((replica) => ({
    replica,
    pool: new Pool(`http://${replica}`, { connections: 1, pipelining: 1 }),
    registered: false,
    reachable: true,
    timer: undefined,
    inFlight: undefined,
  }));

  async function register(state: ReplicaState): Promise<void> {
    const answer = await requestReplica(state.pool, 'POST', '/service', identity, timeoutMs, settings.credentials);
    if (answer.status !== 200) throw new Error(`register answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    if (!state.registered) log.info({ replica: state.replica }, 'registered with discovery');
    state.registered = true;
    markReady();
  }

  async function beat(state: ReplicaState): Promise<void> {
    try {
      if (!state.registered) {
        await register(state);
      } else {
        const answer = await requestReplica(state.pool, 'PUT', '/service/heartbeat', identity, timeoutMs, settings.credentials);
        if (answer.status === 404) {
          // The replica forgot us (it restarted, or our lease lapsed): join again at once.
          log.warn({ replica: state.replica }, 'discovery does not know this instance; registering again');
          state.registered = false;
          await register(state);
        } else if (answer.status !== 200) {
          throw new Error(`heartbeat answered ${answer.status}`);
        }
      }
      if (!state.reachable) log.info({ replica: state.replica }, 'discovery replica reachable again');
      state.reachable = true;
    } catch (error) {
      if (state.reachable) log.warn({ replica: state.replica, err: error }, 'discovery replica unreachable; will keep trying');
      state.reachable = false;
      // Whatever it knew may be gone by the time it answers: register afresh.
      state.registered = false;
    }
  }

  function schedule(state: ReplicaState, delayMs: number): void {
    if (stopped) return;
    state.timer = setTimeout(() => {
      const started = Date.now();
      state.inFlight = beat(state).finally(() => {
        state.inFlight = undefined;
        schedule(state, Math.max(0, heartbeatMs - (Date.now() - started)));
      });
    }, delayMs);
    state.timer.unref();
  }

  for (const state of states) schedule(state, 0);

  return {
    registeredWith: () => states.filter((s) => s.registered).map((s) => s.replica),
    ready: () => readyPromise,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const state of states) clearTimeout(state.timer);
      // Let a heartbeat already on the wire land first, so it cannot re-register us after the DELETE.
      await Promise.all(states.map((s) => s.inFlight));
      await Promise.all(
        states.map(async (state) => {
          try {
            const answer = await requestReplica(state.pool, 'DELETE', '/service', identity, timeoutMs, settings.credentials);
            if (answer.status === 200) log.info({ replica: state.replica }, 'deregistered from discovery');
          } catch (error) {
            log.debug({ replica: state.replica, err: error }, 'could not deregister; the lease will expire');
          }
          state.registered = false;
          await state.pool.destroy().catch(() => undefined);
        }),
      );
    },
  };
}
