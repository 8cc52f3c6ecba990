import { describe, expect, it } from 'vitest';
import { defaultLayout, LayoutError, resolveLayout, withPortOffset } from '../../../src/launcher/layout.js';

function problemsOf(overrides: unknown): string[] {
  try {
    resolveLayout(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(LayoutError);
    return [...(error as LayoutError).problems];
  }
  throw new Error('expected the layout to be rejected');
}

describe('cluster layout', () => {
  it('has the local defaults docs/architecture.md lists', () => {
    const layout = resolveLayout({});
    expect(layout.redis.ports).toEqual([6380, 6381, 6382, 6383]);
    expect([layout.postgres.monitorPort, layout.postgres.primaryPort, layout.postgres.standbyPort]).toEqual([5440, 5441, 5442]);
    expect(layout.discovery.ports).toEqual([8500, 8501]);
    expect(layout.gateway.port).toBe(8080);
    expect(layout.prometheus.port).toBe(9090);
    expect(layout.services).toEqual({ users: 2, images: 2, recommendations: 2 });
    expect(layout.postgres.databases).toEqual(['users', 'images', 'recommendations']);
    expect(layout.dataDir.endsWith('/.easel')).toBe(true);
    expect(layout.redis.maxMemoryMb).toBe(256);
    const { postgres, redis } = layout.exporters;
    expect([postgres.monitorPort, postgres.primaryPort, postgres.standbyPort]).toEqual([9440, 9441, 9442]);
    expect(redis.ports).toEqual([9380, 9381, 9382, 9383]);
  });

  it('wants one Redis exporter port per Redis node, unless the exporters are off', () => {
    expect(problemsOf({ redis: { ports: [6380, 6381] } })).toEqual(['exporters.redis.ports: one port per Redis node is needed (4 for 2 nodes)']);
    expect(resolveLayout({ redis: { ports: [6380, 6381] }, exporters: { redis: { ports: [9380, 9381] } } }).exporters.redis.ports).toEqual([9380, 9381]);
    expect(resolveLayout({ redis: { ports: [6380, 6381] }, exporters: { enabled: false } }).redis.ports).toEqual([6380, 6381]);
  });

  it('rejects an exporter on a port another process has', () => {
    expect(problemsOf({ exporters: { postgres: { standbyPort: 9090 } } })).toEqual(['exporters.postgres.standbyPort: port 9090 is already used by prometheus.port']);
  });

  it('applies overrides and keeps the other defaults', () => {
    const layout = resolveLayout({ dataDir: '/tmp/elsewhere', gateway: { port: 18080 }, services: { users: 3 } });
    expect(layout.dataDir).toBe('/tmp/elsewhere');
    expect(layout.gateway.port).toBe(18080);
    expect(layout.services).toEqual({ users: 3, images: 2, recommendations: 2 });
    expect(layout.redis.ports).toEqual(defaultLayout.redis.ports);
  });

  it('rejects every bad value at once, naming each one and what it got', () => {
    const problems = problemsOf({
      redis: { ports: [6380, 70000] },
      postgres: { standbyPort: 'five' , maxPreparedTransactions: 0 },
      services: { images: 0 },
      logLevel: 'loud',
    });
    expect(problems).toHaveLength(5);
    expect(problems.find((p) => p.startsWith('redis.ports.1:'))).toContain('70000');
    expect(problems.find((p) => p.startsWith('postgres.standbyPort:'))).toContain('"five"');
    expect(problems.some((p) => p.startsWith('postgres.maxPreparedTransactions:'))).toBe(true);
    expect(problems.find((p) => p.startsWith('services.images:'))).toContain('0');
    expect(problems.some((p) => p.startsWith('logLevel:'))).toBe(true);
  });

  it('rejects unknown keys, so a typo does not silently do nothing', () => {
    const problems = problemsOf({ gateway: { prot: 8081 } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^gateway: .*prot/);
  });

  it('rejects two processes on one port, naming both', () => {
    const problems = problemsOf({ gateway: { port: 8500 } });
    expect(problems).toEqual(['gateway.port: port 8500 is already used by discovery.ports.0']);
  });

  it('rejects a database name that is not an SQL identifier', () => {
    expect(problemsOf({ postgres: { databases: ['users', 'Drop Table'] } })[0]).toMatch(/^postgres\.databases\.1: /);
  });

  it('moves every fixed port by an offset', () => {
    const layout = withPortOffset(resolveLayout({}), 1000);
    expect(layout.redis.ports).toEqual([7380, 7381, 7382, 7383]);
    expect(layout.postgres.primaryPort).toBe(6441);
    expect(layout.gateway.port).toBe(9080);
    expect(layout.exporters.postgres.monitorPort).toBe(10440);
    expect(layout.exporters.redis.ports).toEqual([10380, 10381, 10382, 10383]);
    expect(layout.redis.maxMemoryMb).toBe(256);
    expect(() => withPortOffset(resolveLayout({}), 60000)).toThrow(/redis\.ports\.0/);
  });
});
