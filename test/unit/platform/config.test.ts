import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, loadConfig, serviceEnvShape } from '../../../src/platform/config.js';
import { loadUsersConfig } from '../../../src/users/config.js';
import { loadGatewayConfig } from '../../../src/gateway/config.js';

describe('loadConfig', () => {
  const schema = z.object({ PORT: env.port(8080), HOST: env.host('127.0.0.1'), DEBUG: env.boolean(false), PEERS: env.addressList('a:1') });

  it('applies defaults and returns a frozen, typed object', () => {
    const config = loadConfig(schema, {});
    expect(config).toEqual({ PORT: 8080, HOST: '127.0.0.1', DEBUG: false, PEERS: ['a:1'] });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.PEERS)).toBe(true);
  });

  it('parses the values it is given', () => {
    const config = loadConfig(schema, { PORT: '9000', DEBUG: 'yes', PEERS: 'x:1, y:2' });
    expect(config.PORT).toBe(9000);
    expect(config.DEBUG).toBe(true);
    expect(config.PEERS).toEqual(['x:1', 'y:2']);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(schema, { PORT: '' }).PORT).toBe(8080);
  });

  it('rejects every bad variable at once and names each one with its value', () => {
    let error: unknown;
    try {
      loadConfig(schema, { PORT: '70000', DEBUG: 'maybe', PEERS: 'nohostport' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.find((p) => p.startsWith('PORT'))).toContain('"70000"');
    expect(problems.find((p) => p.startsWith('DEBUG'))).toContain('"maybe"');
    expect(problems.find((p) => p.startsWith('PEERS'))).toContain('nohostport');
    expect((error as Error).message).toMatch(/Fix these environment variables/);
  });

  it('ignores variables the schema does not know', () => {
    expect(loadConfig(schema, { PATH: '/usr/bin', SECRET: 'x' })).not.toHaveProperty('SECRET');
  });

  it('requires the instance name of a service process', () => {
    expect(() => loadConfig(z.object(serviceEnvShape), {})).toThrow(/INSTANCE_NAME/);
  });
});

describe('process config loaders', () => {
  it('name each bad variable of the users service', () => {
    expect(() => loadUsersConfig({ INSTANCE_NAME: 'users-1', PORT: 'http', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' }))
      .toThrow(/PORT[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*PORT/);
  });

  it('refuse to start without a cluster secret, and never echo a secret in the error', () => {
    expect(() => loadGatewayConfig({})).toThrow(/CLUSTER_SECRET/);
    expect(() => loadGatewayConfig({ CLUSTER_SECRET: 'short-secret' })).toThrow(/CLUSTER_SECRET/);
    expect(() => loadGatewayConfig({ CLUSTER_SECRET: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('give the gateway its documented defaults', () => {
    const config = loadGatewayConfig({ CLUSTER_SECRET: 'a-generated-secret-0123456789' });
    expect(config.PORT).toBe(8080);
    expect(config.DISCOVERY_ADDRESSES).toEqual(['127.0.0.1:8500', '127.0.0.1:8501']);
  });
});
