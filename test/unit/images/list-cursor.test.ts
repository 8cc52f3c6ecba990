import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../src/images/list-cursor.js';

describe('list cursor', () => {
  it('round-trips a position and is URL-safe', () => {
    const position = { created: '2026-11-28T05:00:00.123Z', id: 'AbC-_0123456789abcdefg' };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it('refuses a cursor it did not make', () => {
    for (const bad of ['', 'not-a-cursor', Buffer.from('{"a":1}').toString('base64url'), Buffer.from('["yesterday","x"]').toString('base64url'),
      // A timestamp PostgreSQL cannot hold, a NUL in the id, a date that is no date.
      Buffer.from('["99999-01-01T00:00:00.000Z","AbC-_0123456789abcdefg"]').toString('base64url'),
      Buffer.from('["+275760-09-13T00:00:00.000Z","AbC-_0123456789abcdefg"]').toString('base64url'),
      Buffer.from('["2026-11-28T05:00:00.123Z","AbC-_0123456789abcdef\\u0000"]').toString('base64url'),
      Buffer.from('["2026-02-31T00:00:00.000Z","AbC-_0123456789abcdefg"]').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
