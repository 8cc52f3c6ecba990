import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { withSql } from '../../src/launcher/postgres.js';
// ProvidedContext (pgAdminUrl, redisNodes) is declared in integration-setup.ts.

// Helpers for integration test files: the shared servers started by integration-setup.ts.

export interface IntegrationPostgres {
  /** Superuser URL of the "postgres" database. */
  adminUrl: string;
  /** A fresh, empty database for this test file; returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
}

export function integrationPostgres(): IntegrationPostgres {
  const adminUrl = inject('pgAdminUrl');
  if (!adminUrl) throw new Error('no shared PostgreSQL: run this file in the "integration" project (vitest --project integration)');
  return {
    adminUrl,
    createDatabase: async (prefix = 'test') => {
      const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${randomBytes(4).toString('hex')}`.slice(0, 63);
      await withSql(adminUrl, (sql) => sql.unsafe(`create database "${name}"`));
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
  };
}

/** The shared Redis ring as "name=host:port,..." (the REDIS_NODES format). */
export function integrationRedisSpec(): string {
  const spec = inject('redisNodes');
  if (!spec) throw new Error('no shared Redis ring: run this file in the "integration" project (vitest --project integration)');
  return spec;
}

/** The shared Redis ring as a list of nodes. */
export function integrationRedisNodes(): Array<{ name: string; host: string; port: number }> {
  return integrationRedisSpec().split(',').map((item) => {
    const [name, address] = item.split('=') as [string, string];
    const [host, port] = address.split(':') as [string, string];
    return { name, host, port: Number(port) };
  });
}
