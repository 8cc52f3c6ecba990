import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// How quickly pg_auto_failover replaces a primary that crashed or hangs. The defaults (health
// checks every 5 s with 5 s timeouts and two retries 2 s apart, a node unhealthy after 20 s
// without a report, 30 s for the old primary to demote) give 40 s or more; a frozen primary was
// never replaced within a 20 s freeze. Goal: a replacement within 10 s, with no failover
// under load. docs/failover.md has the timeline.
//
// The monitor fails a primary over only when BOTH hold (pg_auto_failover 2.0 IsUnhealthy):
// its keeper has not reported for `node_considered_unhealthy_timeout`, AND the monitor's own
// health check could not connect to its PostgreSQL after all retries. A busy node stays put
// unless its keeper stalls for seconds AND its postmaster refuses connections for seconds too.
//
// Then, driven by the standby's keeper (one step per keeper loop, ~1 s each): secondary ->
// prepare_promotion (primary -> draining), -> stop_replication (primary -> demote_timeout),
// and once `primary_demote_timeout` has passed since that, the standby -> wait_primary
// (promoted, writable). Worst case for a frozen primary:
//   last report (t=0) .. health check BAD, report older than 2 s            -> unhealthy  ~2-3 s
//   prepare_promotion, stop_replication (keeper loops, ~1 s each; promoting
//   PostgreSQL inside stop_replication takes 2-3 s on a loaded machine)     ->            ~5-7 s
//   primary_demote_timeout (overlaps the keeper steps) + wait_primary       ->            ~5-8 s
// leaving ~2 s of the 10 s for services to reconnect. A killed primary's node is slower to
// replace (the drill measured 6-10.5 s): the launcher restarts it at once and its keeper takes
// part in the demotion.

/** Monitor settings (milliseconds), written to the monitor's postgresql.conf (all reloadable, PGC_SIGHUP). */
export const monitorFailoverSettings = {
  // One health check per node every second: detection cannot be quicker than the period.
  'pgautofailover.health_check_period': 1_000,
  // A local PostgreSQL accepts a connection in milliseconds, even on a loaded two-core machine
  // (measured under the drill's load: well under 100 ms); one second is ten times that margin.
  'pgautofailover.health_check_timeout': 1_000,
  // One retry (the minimum) 250 ms later: a single refused connection (a backend fork that lost
  // a race, a restart in progress) does not mark a node bad, two failures in a row do.
  'pgautofailover.health_check_max_retries': 1,
  'pgautofailover.health_check_retry_delay': 250,
  // Keepers report every second (PG_AUTOCTL_KEEPER_SLEEP_TIME); two missed reports in a row is
  // a stalled or dead keeper. A slow one stays put: the health check above must fail as well
  // (twice), and a busy postmaster still accepts connections. Every second here is a second
  // of every failover (3 s made a killed primary's replacement take 9-10 s under the drill).
  'pgautofailover.node_considered_unhealthy_timeout': 2_000,
  // How long the monitor waits for the old primary to demote itself before promoting the
  // standby. Waiting protects against two writable primaries; here synchronous replication
  // already does: the standby stops replicating before it is promoted (stop_replication), so
  // the old primary can no longer acknowledge a commit (it waits for a synchronous standby that
  // is gone). One second is enough for a primary that is alive to hear it; a dead or frozen one
  // never will.
  'pgautofailover.primary_demote_timeout': 1_000,
} as const;

/** Keeper settings (`pg_autoctl config set`, seconds unless said), applied to both data nodes. */
export const keeperFailoverSettings = {
  // A primary that can reach neither the monitor nor the standby demotes itself after this long.
  // Above the ~7 s the monitor needs to promote the standby, so it never demotes first, and far
  // enough above a monitor restart (~2 s) that a restart drill does not demote a healthy primary.
  'timeout.network_partition_timeout': 10,
  // While the keeper restarts a crashed postmaster it keeps telling the monitor "running" (so the
  // monitor waits instead of failing over) for at most this long, or this many restarts.
  // Crash recovery of our databases takes about a second; five seconds without a running
  // PostgreSQL means it will not come back soon: fail over instead (default 20 s).
  'timeout.postgresql_restart_failure_timeout': 5,
  'timeout.postgresql_restart_failure_max_retries': 2,
} as const;

const includeFile = 'easel-failover.conf';

/**
 * Writes the monitor settings into `<pgdata>/easel-failover.conf` and makes postgresql.conf
 * include it (once). Called before every start of the monitor, so a changed value takes effect
 * on the next start; no SQL connection (nor credentials) needed.
 */
export function writeMonitorFailoverSettings(pgdata: string): void {
  const lines = Object.entries(monitorFailoverSettings).map(([name, value]) => `${name} = ${value}`);
  writeFileSync(join(pgdata, includeFile), `# written by the easel launcher (src/launcher/failover-tuning.ts); reasons there\n${lines.join('\n')}\n`, { mode: 0o644 });
  const conf = join(pgdata, 'postgresql.conf');
  if (existsSync(conf) && !readFileSync(conf, 'utf8').includes(`include_if_exists = '${includeFile}'`)) {
    appendFileSync(conf, `\ninclude_if_exists = '${includeFile}'\n`);
  }
}

/** `pg_autoctl config set` argument lists for the keeper settings. */
export function keeperConfigCommands(pgdata: string): string[][] {
  return Object.entries(keeperFailoverSettings).map(([name, value]) => ['config', 'set', '--pgdata', pgdata, name, String(value)]);
}
