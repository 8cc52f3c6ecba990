import { describe, expect, it } from 'vitest';
import { AppError, errorCodes, type ErrorCode } from '../../../../src/platform/errors.js';
import { renderError } from '../../../../src/platform/render-error.js';
import { countsAgainstInstance, errorFromWire, isRetryableStatus, wireStatusFor } from '../../../../src/platform/rpc/wire.js';

// The RPC wire's own rule, as tables: the status each code travels with, whether that answer
// counts against the instance (what the circuit breaker counts), and whether it is worth another
// instance. It must not follow the public table by accident.

const wireTable: Array<[ErrorCode, number, boolean]> = [
  // code, wire status, counts against the instance that answered
  ['INVALID_ARGUMENT', 400, false],
  ['UNAUTHENTICATED', 401, false],
  ['FORBIDDEN', 403, false],
  ['NOT_FOUND', 404, false],
  ['CONFLICT', 409, false],
  ['QUOTA_EXCEEDED', 409, false],
  ['PAYLOAD_TOO_LARGE', 413, false],
  ['UNSUPPORTED_MEDIA_TYPE', 415, false],
  ['RATE_LIMITED', 429, false],
  // A live instance's answer to one request: a bad input that reached a bug must not take it away from everyone.
  ['INTERNAL', 500, false],
  // A healthy callee reporting a dependency's outage or the caller's deadline.
  ['UNAVAILABLE', 503, false],
  ['DEADLINE_EXCEEDED', 503, false],
];

describe('the RPC wire rule', () => {
  it('covers every code', () => {
    expect(wireTable.map(([code]) => code).sort()).toEqual(Object.keys(errorCodes).sort());
  });

  for (const [code, status, counts] of wireTable) {
    it(`${code} travels as ${status} and ${counts ? 'counts' : 'does not count'} against the instance`, () => {
      expect(wireStatusFor(code)).toBe(status);
      const rendered = renderError(new AppError(code, 'text', { details: { reason: 'r' } }), 'rpc');
      expect(rendered.status).toBe(status);
      expect(rendered.body).toMatchObject({ code, details: { reason: 'r' } });
      expect(countsAgainstInstance(rendered.status)).toBe(counts);
      // What the caller rebuilds is the callee's error.
      const rebuilt = errorFromWire(rendered.status, Buffer.from(JSON.stringify(rendered.body)));
      expect([rebuilt.code, rebuilt.details]).toEqual([code, { reason: 'r' }]);
    });
  }

  const answers: Array<[number, boolean, boolean]> = [
    // status of an answer, counts against the instance, worth another instance
    [200, false, false],
    [400, false, false],
    [404, false, false],
    [429, false, false],
    [500, false, false],
    [501, false, false],
    [502, true, true],
    [503, false, true],
    [504, true, true],
  ];
  for (const [status, counts, retryable] of answers) {
    it(`an answer of ${status}: ${counts ? 'counts' : 'does not count'}, ${retryable ? 'retryable' : 'not retried'}`, () => {
      expect(countsAgainstInstance(status)).toBe(counts);
      expect(isRetryableStatus(status)).toBe(retryable);
    });
  }

  const foreign: Array<[string, number, string]> = [
    ['an HTML error page', 502, '<html>bad gateway</html>'],
    ['an unknown code', 500, '{"code":"SOMETHING","message":"x"}'],
    ['no body', 503, ''],
  ];
  for (const [what, status, body] of foreign) {
    it(`reads ${what} as UNAVAILABLE`, () => {
      expect(errorFromWire(status, Buffer.from(body)).code).toBe('UNAVAILABLE');
    });
  }
});
