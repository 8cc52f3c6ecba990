import AjvCompiler from '@fastify/ajv-compiler';
import { describe, expect, it } from 'vitest';
import { AppError, EaselError, errorCode, errorCodes, toAppError, type ErrorCode } from '../../../src/platform/errors.js';
import { ConfigError } from '../../../src/platform/config.js';
import { AttemptTimeoutError } from '../../../src/platform/rpc/client.js';
import { ClusterInterruptedError, ClusterStartError, LayoutError, NotReadyError, UnknownInstanceError } from '../../../src/launcher/errors.js';
import { failureShapes, renderError, type FailureShapeName } from '../../../src/platform/render-error.js';

// The one error path, as tables: each code's public status, each named shape's body, and the
// rules every answer follows whatever the shape (Retry-After on 429/503, no internals in a 5xx).

const publicTable: Array<[ErrorCode, number]> = [
  ['INVALID_ARGUMENT', 400],
  ['UNAUTHENTICATED', 401],
  ['FORBIDDEN', 403],
  ['NOT_FOUND', 404],
  ['CONFLICT', 409],
  ['QUOTA_EXCEEDED', 409],
  ['PAYLOAD_TOO_LARGE', 413],
  ['UNSUPPORTED_MEDIA_TYPE', 415],
  ['RATE_LIMITED', 429],
  ['INTERNAL', 500],
  ['UNAVAILABLE', 503],
  ['DEADLINE_EXCEEDED', 503],
  ['DATABASE_UNAVAILABLE', 503],
];

const shapeTable: Array<[FailureShapeName, (error: string, code: string) => Record<string, unknown>]> = [
  ['failure', (error, code) => ({ message: 'failure', error, code })],
  ['tokenPair', (error, code) => ({ accessToken: '', refreshToken: '', error, code })],
  ['upload', (error, code) => ({ message: 'failure', imageID: '', error, code })],
  ['imageBlob', (error, code) => ({ imageBlob: '', author: '', title: '', description: '', error, code })],
];

describe('the public error table', () => {
  it('covers every code', () => {
    expect(publicTable.map(([code]) => code).sort()).toEqual(Object.keys(errorCodes).sort());
  });

  for (const [code, status] of publicTable) {
    for (const [shape, expected] of shapeTable) {
      it(`${code} -> ${status} in the ${shape} shape`, () => {
        const message = code === 'INTERNAL' ? 'internal error' : `a ${code} happened`;
        const rendered = renderError(new AppError(code, message), shape);
        expect(rendered.status).toBe(status);
        expect(rendered.body).toEqual(expected(message, code));
      });
    }
  }

  // Fastify's own validator compiler, as the routes use.
  const compile = AjvCompiler()({}, { customOptions: { coerceTypes: false } });
  for (const [shape] of shapeTable) {
    it(`every ${shape} body matches the shape's own schema (what the routes declare)`, () => {
      const validate = compile({ schema: failureShapes[shape].schema });
      for (const [code] of publicTable) {
        const { body } = renderError(new AppError(code, 'text'), shape);
        expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
      }
    });
  }
});

describe('rules for every shape', () => {
  const retryAfterTable: Array<[string, unknown, number | undefined]> = [
    ['503 without a hint', new AppError('UNAVAILABLE', 'down'), 1],
    ['503 with a hint', new AppError('UNAVAILABLE', 'down', { retryAfterSeconds: 7 }), 7],
    ['503 for a deadline', new AppError('DEADLINE_EXCEEDED', 'slow'), 1],
    ['429 without a hint', new AppError('RATE_LIMITED', 'slow down'), 1],
    ['429 with a hint', new AppError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 60 }), 60],
    ['400', new AppError('INVALID_ARGUMENT', 'bad'), undefined],
    ['500', new Error('boom'), undefined],
  ];
  for (const [what, error, seconds] of retryAfterTable) {
    for (const [shape] of [...shapeTable, ['rpc'] as const]) {
      it(`Retry-After for ${what} in the ${shape} shape: ${seconds ?? 'none'}`, () => {
        expect(renderError(error, shape).retryAfterSeconds).toBe(seconds);
      });
    }
  }

  const leaks: Array<[string, unknown]> = [
    ['a plain Error', new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2')],
    ['an INTERNAL AppError with a careless text', new AppError('INTERNAL', 'query failed on 10.0.0.7:5432 password=hunter2')],
    ['a thrown string', 'password=hunter2'],
    ['an error of another kind', new ConfigError(['DATABASE_URL: password=hunter2'])],
  ];
  for (const [what, error] of leaks) {
    it(`never shows the internals of ${what}`, () => {
      for (const [shape] of [...shapeTable, ['rpc'] as const]) {
        const rendered = renderError(error, shape);
        expect(rendered.status).toBe(500);
        expect(JSON.stringify(rendered.body)).not.toMatch(/10\.0\.0\.7|hunter2/);
        expect(rendered.body).toMatchObject(shape === 'rpc' ? { code: 'INTERNAL', message: 'internal error' } : { code: 'INTERNAL', error: 'internal error' });
      }
    });
  }

  const httpLayer: Array<[string, unknown, ErrorCode, number]> = [
    ['a schema violation', Object.assign(new Error('body.title must NOT have more than 100 characters'), { statusCode: 400, validation: [] }), 'INVALID_ARGUMENT', 400],
    ['malformed JSON', Object.assign(new Error('Body is not valid JSON'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), 'INVALID_ARGUMENT', 400],
    ['a body over the limit', Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }), 'PAYLOAD_TOO_LARGE', 413],
    ['a content type nobody parses', Object.assign(new Error('Unsupported Media Type'), { statusCode: 415 }), 'UNSUPPORTED_MEDIA_TYPE', 415],
    ['another 4xx of a parser', Object.assign(new Error('a request field is not a valid JSON'), { statusCode: 406 }), 'INVALID_ARGUMENT', 400],
    ['a 5xx of a library', Object.assign(new Error('the file buffer was not found'), { statusCode: 500 }), 'INTERNAL', 500],
  ];
  for (const [what, error, code, status] of httpLayer) {
    it(`maps ${what} to ${code} (${status})`, () => {
      const rendered = renderError(error);
      expect([rendered.error.code, rendered.status]).toEqual([code, status]);
    });
  }
});

describe('the one hierarchy', () => {
  const processErrors: Array<[string, EaselError, string]> = [
    ['configuration', new ConfigError(['PORT: too big']), 'CONFIG_INVALID'],
    ['an RPC attempt that timed out', new AttemptTimeoutError(400), 'RPC_ATTEMPT_TIMEOUT'],
    ['a cluster layout', new LayoutError(['gateway.port: too big'], 'test'), 'LAYOUT_INVALID'],
    ['a process not ready', new NotReadyError('users-1 was not ready', false), 'NOT_READY'],
    ['a failed start', new ClusterStartError('redis-2', 'exited', 'tail', '/tmp/redis-2.log'), 'CLUSTER_START_FAILED'],
    ['an interrupted start', new ClusterInterruptedError(), 'CLUSTER_INTERRUPTED'],
    ['an unknown instance', new UnknownInstanceError('nope-1', ['users-1']), 'UNKNOWN_INSTANCE'],
  ];
  for (const [what, error, code] of processErrors) {
    it(`${what} is an EaselError with the stable code ${code}`, () => {
      expect(error).toBeInstanceOf(EaselError);
      expect(errorCode(error)).toBe(code);
      expect(error.name).toBe(error.constructor.name);
      // Not a request outcome: at an HTTP edge it is an internal error like any other.
      expect(toAppError(error).code).toBe('INTERNAL');
    });
  }

  it('gives anything else no code', () => {
    expect(errorCode(new Error('x'))).toBeUndefined();
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(errorCode('text')).toBeUndefined();
  });
});
