import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { databaseFailure } from '../../../src/platform/db/database-errors.js';
import { renderError } from '../../../src/platform/render-error.js';

// A value PostgreSQL refuses is the request's fault (400), a lost connection is an outage (503),
// and nothing of the database's text reaches the client.

const pgError = (code: string) => Object.assign(new postgres.PostgresError({ message: 'invalid byte sequence for encoding "UTF8": 0x00' } as never), { code });

describe('database failures', () => {
  const table: Array<[string, unknown, string | undefined]> = [
    ['a NUL byte in text (22021)', pgError('22021'), 'INVALID_ARGUMENT'],
    ['a timestamp out of range (22008)', pgError('22008'), 'INVALID_ARGUMENT'],
    ['an invalid text representation (22P02)', pgError('22P02'), 'INVALID_ARGUMENT'],
    ['a unique violation (23505)', pgError('23505'), 'INVALID_ARGUMENT'],
    ['a check violation (23514)', pgError('23514'), 'INVALID_ARGUMENT'],
    ['a connection failure (08006)', pgError('08006'), 'UNAVAILABLE'],
    ['a server shutting down (57P01)', pgError('57P01'), 'UNAVAILABLE'],
    ['too many connections (53300)', pgError('53300'), 'UNAVAILABLE'],
    ["postgres.js's lost connection", Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }), 'UNAVAILABLE'],
    ['a syntax error (42601), our bug', pgError('42601'), undefined],
    ['not a database error', new Error('boom'), undefined],
  ];
  for (const [what, error, code] of table) {
    it(`${what}: ${code ?? 'left to the general rule'}`, () => {
      expect(databaseFailure(error)?.code).toBe(code);
      const rendered = renderError(error);
      expect(rendered.error.code).toBe(code ?? 'INTERNAL');
      expect(JSON.stringify(rendered.body)).not.toContain('UTF8');
    });
  }
});
