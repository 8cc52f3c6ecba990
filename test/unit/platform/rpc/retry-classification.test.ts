import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { AttemptTimeoutError } from '../../../../src/platform/rpc/client.js';
import { neverSent } from '../../../../src/platform/rpc/discovery-transport.js';

// One of the two judgements behind every RPC retry, as a table (one row per error a caller
// meets): whether a failed attempt certainly never reached the instance, so that even a call
// that is not safe to repeat goes to another instance. The other, which answers send a call that
// is safe to repeat elsewhere, is tabled with the wire's rules in wire.test.ts;
// test/integration/platform/rpc/retry-table.test.ts shows both end to end.

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
