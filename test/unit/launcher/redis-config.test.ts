import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exporterRedisCommands, redisServerConfig, serviceRedisCommands } from '../../../src/launcher/redis-config.js';
import { repoRoot } from '../../../src/launcher/paths.js';

describe('the Redis configuration', () => {
  const config = redisServerConfig({ host: '127.0.0.1', port: 6380, maxMemoryMb: 256, easelPassword: 'easel-password-0123456789', exporterPassword: 'exporter-password-0123456789' });

  it('turns the default user off, keeps passwords only as SHA-256, and evicts only what has a TTL', () => {
    expect(config).toMatch(/^user default off resetpass /m);
    expect(config).not.toContain('easel-password-0123456789');
    expect(config).toContain(`#${createHash('sha256').update('easel-password-0123456789').digest('hex')}`);
    expect(config).toMatch(/^protected-mode yes$/m);
    expect(config).toMatch(/^bind 127\.0\.0\.1$/m);
    expect(config).toMatch(/^maxmemory 268435456$/m);
    expect(config).toMatch(/^maxmemory-policy volatile-lru$/m);
    for (const dangerous of ['config', 'keys', 'scan', 'flushall', 'acl', 'debug', 'shutdown', 'monitor', 'client', 'module']) {
      expect(serviceRedisCommands, dangerous).not.toContain(dangerous);
    }
    expect(exporterRedisCommands).not.toContain('get');
  });

  it('gives compose and Kubernetes the same users (deploy/redis/easel-redis.sh)', () => {
    const script = readFileSync(join(repoRoot(), 'deploy', 'redis', 'easel-redis.sh'), 'utf8');
    const commandsOf = (user: string) => new Set([...new RegExp(`user ${user} on [^\\n]*`).exec(script)![0].matchAll(/\+([\w|]+)/g)].map((m) => m[1]));
    expect(commandsOf('easel')).toEqual(new Set(serviceRedisCommands));
    expect(commandsOf('exporter')).toEqual(new Set(exporterRedisCommands));
    expect(script).toContain('user default off resetpass');
    expect(script).toContain('--maxmemory-policy volatile-lru');
    expect(script).toContain('--protected-mode yes');
  });
});
