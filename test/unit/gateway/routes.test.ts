import type { FastifyInstance } from 'fastify';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imagesContract } from '../../../src/contracts/images.js';
import { recommendationsContract } from '../../../src/contracts/recommendations.js';
import { accessTokenClaims, usersContract } from '../../../src/contracts/users.js';
import type { RpcService } from '../../../src/platform/rpc/contract.js';
import { limits } from '../../../src/contracts/limits.js';
import { AppError } from '../../../src/platform/errors.js';
import { loadConfig } from '../../../src/platform/config.js';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildGatewayApp } from '../../../src/gateway/app.js';
import { gatewayConfigSchema } from '../../../src/gateway/config.js';
import type { GatewayDeps } from '../../../src/gateway/deps.js';
import { inMemorySharedState } from '../../fakes/shared-state.js';
import { testClusterSecret } from '../../support/credentials.js';

// The whole gateway app against stand-in services that record every call: bad input is refused
// by the route schemas (400 in the route's documented shape, or 404 for a path that is not an
// image id) before any handler runs, so no service is ever called. Each limit is tried just past
// it; were the schema's limit lost, the stand-ins would accept the request and the test fail.

const imageId = 'AAAAAAAAAAAAAAAAAAAAAA';
const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

let token: string;
let jwk: Record<string, unknown>;
let calls: string[];
let failWith: AppError | undefined;
let app: FastifyInstance;

/** A stand-in RPC client of `contract`: records `Service.Method` with its input and answers `answers[method]`. */
function standIn(contract: RpcService, answers: Record<string, (input: Record<string, unknown>) => unknown>) {
  return Object.fromEntries(Object.keys(contract.methods).map((method) => [method, async (input: Record<string, unknown>) => {
    if (method === 'SigningKeys') return { keys: [jwk] };
    const name = `${contract.name}.${method}`;
    calls.push(name);
    lastInput[name] = input;
    if (failWith) throw failWith;
    const answer = answers[method];
    if (!answer) throw new Error(`unexpected call ${name}`);
    return answer(input);
  }]));
}
let lastInput: Record<string, Record<string, unknown>> = {};

const info = { imageId, author: 'mario', authorId: 'user-1', title: 't', description: 'd', tags: ['a'], type: 'image/png', width: 1, height: 1, size: 16, sha256: 'x', created: '2030-01-01T00:00:00.000Z' };
const pair = () => ({ userId: 'user-1', name: 'mario', accessToken: token, refreshToken: 'r2', accessExpiresAt: 2_000_000_000, refreshExpiresAt: 2_000_000_000 });

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
  token = await new SignJWT({ name: 'mario', sid: 'session-1' }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setSubject('user-1').setJti('token-1').setIssuer(accessTokenClaims.issuer).setAudience(accessTokenClaims.audience)
    .setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + 900).sign(privateKey);
});

beforeEach(async () => {
  calls = [];
  lastInput = {};
  failWith = undefined;
  app = await buildGatewayApp({
    config: loadConfig(gatewayConfigSchema, { CLUSTER_SECRET: testClusterSecret, INSTANCE_NAME: 'gw', GATEWAY_WORKERS: '1' }),
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: createMetricsRegistry('test', { defaults: false }),
    sharedState: inMemorySharedState(),
    users: standIn(usersContract, { Register: () => ({ userId: 'u' }), Login: pair, Refresh: pair, Logout: () => ({}) }) as unknown as GatewayDeps['users'],
    images: standIn(imagesContract, {
      Upload: () => ({ imageId }), Get: () => ({ ...info, contentType: 'image/png', etag: '"e"', image: png }), GetInfo: () => info,
      GetVariant: () => ({ contentType: 'image/png', etag: '"e"', image: png }), Modify: () => info, Delete: () => ({}),
      List: () => ({ images: [info], nextCursor: null }), GetInfos: () => ({ images: [info] }),
      Limits: () => ({ maxBytes: 1_000_000, maxPixels: 1_000_000, types: ['image/png'], maxTags: 10, maxTitle: 100, maxDescription: 1000 }),
    }) as unknown as GatewayDeps['images'],
    recommendations: standIn(recommendationsContract, {
      ListTags: () => ({ tags: [{ tag: 'a', count: 1 }] }), Recommend: () => ({ imageIds: [imageId] }), Like: () => ({ liked: true, likes: 1 }),
      Unlike: () => ({ liked: false, likes: 0 }), LikeCounts: () => ({ counts: {} }), RecordView: () => ({}),
    }) as unknown as GatewayDeps['recommendations'],
  });
});

const bearer = { authorization: '' };
beforeEach(() => {
  bearer.authorization = `Bearer ${token}`;
});

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function send(method: Method, url: string, options: { json?: unknown; form?: FormData; headers?: Record<string, string> } = {}) {
  const response = await app.inject({
    method, url,
    headers: { ...bearer, ...(options.json === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.json === undefined ? {} : { payload: JSON.stringify(options.json) }),
    ...(options.form ? { payload: options.form } : {}),
  });
  return { status: response.statusCode, body: response.body ? (response.json() as Record<string, unknown>) : {}, headers: response.headers };
}

const failure = { message: 'failure', code: 'INVALID_ARGUMENT' };
const tokenPairFailure = { accessToken: '', refreshToken: '', code: 'INVALID_ARGUMENT' };
const uploadFailure = { message: 'failure', imageID: '', code: 'INVALID_ARGUMENT' };
const signupFailure = { message: 'failure', error: 'empty/invalid name and/or password', code: 'INVALID_ARGUMENT' };
const tooLong = (max: number) => 'x'.repeat(max + 1);
const tags = (n: number) => Array.from({ length: n }, (_, i) => `tag${i}`);
const imageBlob = png.toString('base64');

function form(fields: Array<[string, string]>, file: [string, Buffer] | null = ['image', png]): FormData {
  const data = new FormData();
  for (const [name, value] of fields) data.append(name, value);
  if (file) data.append(file[0], new Blob([file[1]], { type: 'image/png' }), 'picture.png');
  return data;
}

describe('bad input is refused by the schema, before any service is called', () => {
  const table: Array<[string, Method, string, { json?: unknown; form?: () => FormData; headers?: Record<string, string> }, number, Record<string, unknown>]> = [
    // POST /signup: the original's one text for every malformed sign-up.
    ['signup: a name that is not a string', 'POST', '/signup', { json: { name: 42, password: 'long enough' } }, 400, signupFailure],
    ['signup: a name too long', 'POST', '/signup', { json: { name: tooLong(limits.account.nameMax), password: 'long enough' } }, 400, signupFailure],
    ['signup: a name with a space', 'POST', '/signup', { json: { name: 'ma rio', password: 'long enough' } }, 400, signupFailure],
    ['signup: a password too short', 'POST', '/signup', { json: { name: 'mario', password: 'x'.repeat(limits.account.passwordMin - 1) } }, 400, signupFailure],
    ['signup: a password too long', 'POST', '/signup', { json: { name: 'mario', password: tooLong(limits.account.passwordMax) } }, 400, signupFailure],
    ['signup: a password that is a number', 'POST', '/signup', { json: { name: 'mario', password: 12345678 } }, 400, signupFailure],
    // POST /login, /refresh: the token-pair shape.
    ['login: no password', 'POST', '/login', { json: { name: 'mario' } }, 400, tokenPairFailure],
    ['login: a name too long', 'POST', '/login', { json: { name: tooLong(limits.account.loginNameMax), password: 'x' } }, 400, tokenPairFailure],
    ['login: a password too long', 'POST', '/login', { json: { name: 'mario', password: tooLong(limits.account.passwordMax) } }, 400, tokenPairFailure],
    ['login: a password that is a number', 'POST', '/login', { json: { name: 'mario', password: 12345678 } }, 400, tokenPairFailure],
    ['refresh: a token that is a number', 'POST', '/refresh', { json: { refreshToken: 7 } }, 400, tokenPairFailure],
    ['refresh: a token too long', 'POST', '/refresh', { json: { refreshToken: tooLong(limits.tokenLength) } }, 400, tokenPairFailure],
    ['logout: a refresh token too long', 'POST', '/logout', { json: { refreshToken: tooLong(limits.tokenLength) } }, 400, failure],
    // POST /img as JSON: the upload shape.
    ['upload: no imageBlob', 'POST', '/img', { json: { title: 't' } }, 400, uploadFailure],
    ['upload: imageBlob not a string', 'POST', '/img', { json: { imageBlob: 42 } }, 400, uploadFailure],
    ['upload: imageBlob outside base64', 'POST', '/img', { json: { imageBlob: `${imageBlob.slice(0, 8)}!${imageBlob.slice(9)}` } }, 400, uploadFailure],
    ['upload: padding in the middle', 'POST', '/img', { json: { imageBlob: `${imageBlob.slice(0, 8)}=${imageBlob.slice(9)}` } }, 400, uploadFailure],
    ['upload: a title too long', 'POST', '/img', { json: { imageBlob, title: tooLong(limits.image.title) } }, 400, uploadFailure],
    ['upload: a description too long', 'POST', '/img', { json: { imageBlob, description: tooLong(limits.image.description) } }, 400, uploadFailure],
    ['upload: a title that is a number', 'POST', '/img', { json: { imageBlob, title: 5 } }, 400, uploadFailure],
    ['upload: too many tags in a list', 'POST', '/img', { json: { imageBlob, tags: tags(limits.image.tags + 1) } }, 400, uploadFailure],
    ['upload: too many tags in one string', 'POST', '/img', { json: { imageBlob, tags: tags(limits.image.tags + 1).join(',') } }, 400, uploadFailure],
    ['upload: a tag too long', 'POST', '/img', { json: { imageBlob, tags: ['x'.repeat(limits.image.tagLength + 1)] } }, 400, uploadFailure],
    ['upload: a tag with a slash', 'POST', '/img', { json: { imageBlob, tags: 'fine, not/fine' } }, 400, uploadFailure],
    ['upload: tags that are a number', 'POST', '/img', { json: { imageBlob, tags: 3 } }, 400, uploadFailure],
    ['upload: an access token too long', 'POST', '/img', { json: { imageBlob, accessToken: tooLong(limits.tokenLength) } }, 400, uploadFailure],
    ['upload: an Idempotency-Key too long', 'POST', '/img', { json: { imageBlob }, headers: { 'idempotency-key': tooLong(limits.idempotencyKeyLength) } }, 400, uploadFailure],
    // POST /img as a form.
    ['form upload: a title too long', 'POST', '/img', { form: () => form([['title', tooLong(limits.image.title)]]) }, 400, uploadFailure],
    ['form upload: too many repeated tags', 'POST', '/img', { form: () => form(tags(limits.image.tags + 1).map((tag) => ['tags', tag])) }, 400, uploadFailure],
    ['form upload: a repeated title', 'POST', '/img', { form: () => form([['title', 'one'], ['title', 'two']]) }, 400, uploadFailure],
    // GET /images
    ['list: limit 0', 'GET', '/images?limit=0', {}, 400, failure],
    ['list: limit past a page', 'GET', `/images?limit=${limits.page.images + 1}`, {}, 400, failure],
    ['list: limit not a number', 'GET', '/images?limit=ten', {}, 400, failure],
    ['list: limit not an integer', 'GET', '/images?limit=2.5', {}, 400, failure],
    ['list: a cursor with a foreign character', 'GET', '/images?cursor=abc%21', {}, 400, failure],
    ['list: a cursor too long', 'GET', `/images?cursor=${tooLong(limits.cursorLength)}`, {}, 400, failure],
    ['list: an author too long', 'GET', `/images?author=${tooLong(limits.account.nameMax)}`, {}, 400, failure],
    ['list: a tag given twice', 'GET', '/images?tag=a&tag=b', {}, 400, failure],
    // GET /tags, GET /recommendations
    ['tags: limit 0', 'GET', '/tags?limit=0', {}, 400, failure],
    ['tags: limit past a page', 'GET', `/tags?limit=${limits.page.tags + 1}`, {}, 400, failure],
    ['tags: a prefix too long', 'GET', `/tags?prefix=${tooLong(limits.tagPrefixLength)}`, {}, 400, failure],
    ['recommendations: limit not a number', 'GET', '/recommendations?limit=abc', {}, 400, failure],
    ['recommendations: limit past a page', 'GET', `/recommendations?limit=${limits.page.recommendations + 1}`, {}, 400, failure],
    // PATCH /{imgID}
    ['modify: a title too long', 'PATCH', `/${imageId}`, { json: { title: tooLong(limits.image.title) } }, 400, failure],
    ['modify: a description too long', 'PATCH', `/${imageId}`, { json: { description: tooLong(limits.image.description) } }, 400, failure],
    ['modify: a title that is a number', 'PATCH', `/${imageId}`, { json: { title: 1 } }, 400, failure],
    ['modify: a body that is a list', 'PATCH', `/${imageId}`, { json: ['title'] }, 400, failure],
    // A path that is not an image id names no image: 404, in each route's shape.
    ['get: a malformed id', 'GET', '/not-an-id', {}, 404, { imageBlob: '', author: '', title: '', description: '', error: 'image not found', code: 'NOT_FOUND' }],
    ['get: an id one character too long', 'GET', `/${imageId}A`, {}, 404, { imageBlob: '', code: 'NOT_FOUND' }],
    ['info: a malformed id', 'GET', '/not-an-id/info', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['raw: a malformed id', 'GET', '/not-an-id/raw', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['thumb: a malformed id', 'GET', '/not-an-id/thumb', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['modify: a malformed id', 'PATCH', '/not-an-id', { json: { title: 't' } }, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['delete: a malformed id', 'DELETE', '/not-an-id', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['like: a malformed id', 'POST', '/not-an-id/like', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    ['unlike: a malformed id', 'DELETE', '/not-an-id/like', {}, 404, { message: 'failure', code: 'NOT_FOUND' }],
    // Control characters (a NUL byte PostgreSQL refuses) and bidi overrides never get past the edge.
    ['tags: a NUL prefix', 'GET', '/tags?prefix=%00', {}, 400, failure],
    ['list: a NUL author', 'GET', '/images?author=%00', {}, 400, failure],
    ['list: a NUL tag', 'GET', '/images?tag=a%00', {}, 400, failure],
    ['login: a NUL in the name', 'POST', '/login', { json: { name: 'mario\u0000', password: 'x' } }, 400, tokenPairFailure],
    ['login: an escape sequence in the name', 'POST', '/login', { json: { name: '\u001b[31mmario', password: 'x' } }, 400, tokenPairFailure],
    ['upload: a NUL in the title', 'POST', '/img', { json: { imageBlob, title: 'a\u0000b' } }, 400, uploadFailure],
    ['upload: a bidi override in the title', 'POST', '/img', { json: { imageBlob, title: 'invoice\u202Egpj.exe' } }, 400, uploadFailure],
    ['form upload: a NUL in the description', 'POST', '/img', { form: () => form([['description', 'x\u0000']]) }, 400, uploadFailure],
    ['modify: a bidi isolate in the description', 'PATCH', `/${imageId}`, { json: { description: 'a\u2067b' } }, 400, failure],
    ['modify: a C1 control in the title', 'PATCH', `/${imageId}`, { json: { title: 'a\u0085b' } }, 400, failure],
    ['like: a NUL in the id', 'POST', '/%00/like', {}, 400, failure],
  ];

  for (const [what, method, url, options, status, shape] of table) {
    it(what, async () => {
      const answer = await send(method, url, { ...options, form: options.form?.() });
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body).toMatchObject(shape);
      expect(typeof answer.body.error).toBe('string');
      expect(calls).toEqual([]);
    });
  }

  it('keeps line breaks and tabs in a description, and plain text everywhere', async () => {
    const answer = await send('PATCH', `/${imageId}`, { json: { title: 'Café – ünïcode ✓', description: 'line one\nline two\r\n\tindented' } });
    expect(answer.status).toBe(200);
  });

  it('keeps a plain X-Request-Id and replaces one that is long or strange', async () => {
    expect((await send('GET', '/tags', { headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123');
    for (const id of ['x'.repeat(12 * 1024), 'a b', 'line\u0001']) {
      const echoed = (await send('GET', '/tags', { headers: { 'x-request-id': id } })).headers['x-request-id'];
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('names the field and what it must be', async () => {
    expect((await send('POST', '/img', { json: { imageBlob, title: tooLong(limits.image.title) } })).body.error).toBe('body.title must NOT have more than 100 characters');
    expect((await send('POST', '/img', { json: { imageBlob: 'abc!' } })).body.error).toBe('body.imageBlob must be standard base64 image bytes (a data: URL is allowed)');
    expect((await send('GET', '/images?limit=0')).body.error).toBe('querystring.limit must be >= 1');
  });
});

describe('good input reaches the services as before', () => {
  it('a JSON upload: base64 or a data: URL, tags as a list or comma-separated', async () => {
    for (const [blob, tagsGiven] of [[imageBlob, ['Oil', ' classic ']], [`data:image/png;base64,${imageBlob}`, 'oil, classic,,']] as const) {
      calls = [];
      const answer = await send('POST', '/img', { json: { imageBlob: blob, title: 'Mona', description: 'd', tags: tagsGiven } });
      expect(answer).toMatchObject({ status: 201, body: { message: 'success', imageID: imageId, error: '' } });
      expect(calls.filter((call) => call !== 'Images.Limits')).toEqual(['Images.Upload']);
      const input = lastInput['Images.Upload']!;
      expect(input).toMatchObject({ authorId: 'user-1', authorName: 'mario', title: 'Mona', description: 'd' });
      expect((input.tags as string[]).map((tag) => tag.toLowerCase())).toEqual(['oil', 'classic']);
      expect((input.image as Buffer).equals(png)).toBe(true);
    }
  });

  it('a form upload: the file as "image" or "imageBlob", tags repeated or comma-separated, the token as a field', async () => {
    const fromForm = async (data: FormData) => {
      lastInput = {};
      const answer = await app.inject({ method: 'POST', url: '/img', payload: data });
      expect(answer.statusCode, answer.body).toBe(201);
      return lastInput['Images.Upload']!;
    };
    const repeated = await fromForm(form([['accessToken', token], ['title', 'Form'], ['tags', 'pixel'], ['tags', 'retro,art']]));
    expect(repeated).toMatchObject({ authorId: 'user-1', title: 'Form', tags: ['pixel', 'retro', 'art'] });
    expect((repeated.image as Buffer).equals(png)).toBe(true);
    const asImageBlob = await fromForm(form([['accessToken', token]], ['imageBlob', png]));
    expect((asImageBlob.image as Buffer).equals(png)).toBe(true);
  });

  it('a form without a file, or a malformed one, is a 400 in the upload shape', async () => {
    const noFile = await app.inject({ method: 'POST', url: '/img', payload: form([['accessToken', token]], null) });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json()).toEqual({ ...uploadFailure, error: 'a file field "image" is required' });
    const truncated = await app.inject({
      method: 'POST', url: '/img', headers: { ...bearer, 'content-type': 'multipart/form-data; boundary=xx' },
      payload: '--xx\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc',
    });
    expect(truncated.statusCode).toBe(400);
    expect(truncated.json()).toEqual({ ...uploadFailure, error: 'malformed multipart body' });
    expect(calls).toEqual([]);
  });

  it('an upload in a type the schema does not cover (text/plain) is a 400 in the upload shape, not a 500', async () => {
    const answer = await app.inject({ method: 'POST', url: '/img', headers: { ...bearer, 'content-type': 'text/plain' }, payload: ' ' });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ message: 'failure', imageID: '', code: 'INVALID_ARGUMENT' });
    expect(calls).toEqual([]);
  });

  it('an upload without a token is a 401, checked after the schema', async () => {
    const answer = await send('POST', '/img', { json: { imageBlob }, headers: { authorization: '' } });
    expect(answer).toMatchObject({ status: 401, body: { message: 'failure', imageID: '', code: 'UNAUTHENTICATED' } });
    expect(calls).toEqual([]);
  });

  it('a listing passes its filters and treats empty ones as absent', async () => {
    expect((await send('GET', '/images?author=mario&tag=Oil&limit=2&cursor=abc_-1')).status).toBe(200);
    expect(lastInput['Images.List']).toEqual({ author: 'mario', tag: 'Oil', cursor: 'abc_-1', limit: 2 });
    expect((await send('GET', '/images?author=&cursor=')).status).toBe(200);
    expect(lastInput['Images.List']).toEqual({});
  });
});

describe('every 503 carries Retry-After', () => {
  const routes: Array<[Method, string, { json?: unknown }]> = [
    ['POST', '/signup', { json: { name: 'mario', password: 'long enough' } }],
    ['POST', '/login', { json: { name: 'mario', password: 'long enough' } }],
    ['POST', '/refresh', { json: { refreshToken: 'r1' } }],
    ['POST', '/logout', {}],
    ['POST', '/img', { json: { imageBlob } }],
    ['GET', `/${imageId}`, {}],
    ['GET', `/${imageId}/info`, {}],
    ['GET', `/${imageId}/raw`, {}],
    ['PATCH', `/${imageId}`, { json: { title: 't' } }],
    ['DELETE', `/${imageId}`, {}],
    ['GET', '/images', {}],
    ['GET', '/limits', {}],
    ['GET', '/tags', {}],
    ['GET', '/recommendations', {}],
    ['POST', `/${imageId}/like`, {}],
    ['DELETE', `/${imageId}/like`, {}],
  ];
  for (const [method, url, options] of routes) {
    it(`${method} ${url}`, async () => {
      // A service that is down and did not say for how long.
      failWith = new AppError('UNAVAILABLE', 'a service is unavailable');
      const answer = await send(method, url, options);
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.body.code).toBe('UNAVAILABLE');
      expect(calls.length).toBeGreaterThan(0);
    });
  }
});
