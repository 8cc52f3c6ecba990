import { createHash } from 'node:crypto';

// The one Redis configuration, used by the launcher and the test harness (compose and Kubernetes
// write the same lines in deploy/redis/easel-redis.sh):
//
// - No anonymous access: the `default` user is off; the gateway logs in as `easel`, allowed only
//   the commands the cache ring sends; the Prometheus exporter as `exporter`, allowed only what
//   it reads. Passwords are stored as SHA-256 (`#<hex>`), never in clear, in a 0600 file.
// - protected-mode yes, bound to one address.
// - A cache: no persistence; `maxmemory` with `volatile-lru`, so only keys that carry a TTL
//   (cached images, their generations) are ever evicted. Revocations and rate-limit counters are
//   written without a Redis TTL (their expiry lives in an index the ring sweeps, see
//   cache-ring.ts), so memory pressure can never drop one.

export const serviceRedisUser = 'easel';
export const exporterRedisUser = 'exporter';

/**
 * What the cache ring (src/platform/cache/cache-ring.ts) sends: single-key reads and writes,
 * counters, transactions and scripts, FLUSHDB (a node returning from an outage starts empty).
 * Never CONFIG, KEYS, SCAN, FLUSHALL, ACL, CLIENT, DEBUG, MONITOR, SHUTDOWN, MODULE or the like.
 * A command the ring starts to send must be added here and in deploy/redis/easel-redis.sh.
 */
export const serviceRedisCommands = [
  'ping', 'get', 'mget', 'set', 'del', 'exists', 'pttl', 'ttl', 'expire', 'pexpire',
  'incr', 'incrby', 'decr', 'multi', 'exec', 'discard', 'flushdb', 'eval', 'evalsha', 'script|load',
  // Called from the ring's scripts (never-evicted entries and counters); ACLs apply inside scripts too.
  'zadd', 'zrangebyscore', 'zrem', 'zscore', 'time',
];

/** What prometheus-redis-exporter reads (its documented minimal ACL, without key access). */
export const exporterRedisCommands = ['ping', 'info', 'client|list', 'config|get', 'cluster|info', 'slowlog', 'latency', 'memory', 'select', 'xinfo', 'eval'];

export const redisEvictionPolicy = 'volatile-lru';

export interface RedisServerSettings {
  host: string;
  port: number;
  maxMemoryMb: number;
  easelPassword: string;
  exporterPassword: string;
  /** Where Redis may write (nothing is written: no persistence). */
  dir?: string;
}

function passwordHash(password: string): string {
  return `#${createHash('sha256').update(password).digest('hex')}`;
}

/** ACL lines for the users (shared with the compose/Kubernetes script, which hashes the same way). */
export function redisAclLines(easelPassword: string, exporterPassword: string): string[] {
  return [
    'user default off resetpass resetchannels -@all',
    `user ${serviceRedisUser} on ${passwordHash(easelPassword)} resetchannels ~* -@all ${serviceRedisCommands.map((c) => `+${c}`).join(' ')}`,
    `user ${exporterRedisUser} on ${passwordHash(exporterPassword)} resetchannels -@all ${exporterRedisCommands.map((c) => `+${c}`).join(' ')}`,
  ];
}

/** A redis.conf for one cache node. */
export function redisServerConfig(settings: RedisServerSettings): string {
  return [
    `port ${settings.port}`,
    `bind ${settings.host}`,
    'protected-mode yes',
    'save ""',
    'appendonly no',
    `dir ${settings.dir ?? '/tmp'}`,
    'loglevel warning',
    `maxmemory ${Math.round(settings.maxMemoryMb * 1024 * 1024)}`,
    `maxmemory-policy ${redisEvictionPolicy}`,
    ...redisAclLines(settings.easelPassword, settings.exporterPassword),
    '',
  ].join('\n');
}
