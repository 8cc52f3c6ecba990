import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { AttemptTimeoutError } from '../../../../src/platform/rpc/client.js';
import { isRetryableStatus, neverSent } from '../../../../src/platform/rpc/discovery-transport.js';

// The two judgements behind every RPC retry, as tables (one row per error or status a caller
// meets): whether a failed attempt certainly never reached the instance (then even a call that
// is not safe to repeat goes to another instance), and which answers send a call that is safe to
// repeat to another instance. test/integration/platform/rpc/retry-table.test.ts shows the same
// rows end to end.

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('an attempt that never reached the instance', () => {
  it.each<[string, unknown]>([
    ['connection refused (nothing listens)', withCode('ECONNREFUSED')],
    ['host unreachable', withCode('EHOSTUNREACH')],
    ['network unreachable', withCode('ENETUNREACH')],
    ['undici connect timeout', withCode('UND_ERR_CONNECT_TIMEOUT')],
    ['unknown host name', withCode('ENOTFOUND')],
    ['an open circuit breaker', new BrokenCircuitError()],
  ])('%s: never sent', (_what, error) => {
    expect(neverSent(error)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['connection reset mid-call', withCode('ECONNRESET')],
    ['broken pipe while writing', withCode('EPIPE')],
    ['undici socket closed by the other side', withCode('UND_ERR_SOCKET')],
    ['undici headers timeout', withCode('UND_ERR_HEADERS_TIMEOUT')],
    ['undici body timeout', withCode('UND_ERR_BODY_TIMEOUT')],
    ['undici request aborted', withCode('UND_ERR_ABORTED')],
    ['socket timeout', withCode('ETIMEDOUT')],
    ['our per-try timeout', new AttemptTimeoutError(2_000)],
    ['an error without a code', new Error('something broke')],
    ['a thrown non-error', 'boom'],
    ['a thrown null', null],
    ['nothing at all', undefined],
  ])('%s: may have been sent', (_what, error) => {
    expect(neverSent(error)).toBe(false);
  });
});

describe('answers worth another instance', () => {
  it.each<[number, boolean, string]>([
    [502, true, 'bad gateway: the instance\'s way out failed'],
    [503, true, 'unavailable: the instance is overloaded or shutting down'],
    [504, true, 'gateway timeout'],
    [500, false, 'an internal error would fail the same way elsewhere'],
    [501, false, 'not implemented anywhere'],
    [400, false, 'the request is bad'],
    [401, false, 'the caller is not authenticated'],
    [403, false, 'the caller may not'],
    [404, false, 'not found is an answer'],
    [409, false, 'a conflict is an answer'],
    [413, false, 'too large anywhere'],
    [429, false, 'a rate limit is the caller\'s, not the instance\'s'],
    [200, false, 'success'],
    [204, false, 'success without a body'],
  ])('%i: %s (%s)', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });
});
