import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { createRpcClient, fixedTransport } from '../../src/platform/rpc/client.js';
import { startStack, type Stack } from '../harness/stack.js';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import { startRedisRing, type RedisRingHandle } from '../harness/redis.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { gatewayServiceName } from '../../src/contracts/access.js';
import { rpcPath, type RpcService } from '../../src/platform/rpc/contract.js';
import { ServiceCredentials, serviceAuthHeaders } from '../../src/platform/service-auth.js';

// Issue 12, item 4 (and 8 for the gateway): internal RPC trusted every caller, so any local
// process could delete any image with any callerId, like as anyone, log anyone out, or call
// Users.Login around the gateway's rate limit. Here against the real services over HTTP (their
// own PostgreSQL and Redis), with the gateway in front of them, their stack's cluster secret,
// and attackers without it or holding the wrong service's credential.

let postgres: PostgresHandle;
let redis: RedisRingHandle;
let stack: Stack;
let api: ApiClient;
let victim: Account;
let attacker: Account;
let imageId: string;

const contracts: Array<[string, RpcService]> = [['users', usersContract], ['images', imagesContract], ['recommendations', recommendationsContract]];
const pools = new Map<string, Pool>();
const poolFor = (url: string) => {
  let pool = pools.get(url);
  if (!pool) pools.set(url, (pool = new Pool(url, { connections: 4 })));
  return pool;
};

function urlOf(service: RpcService): string {
  return service === usersContract ? stack.users.url : service === imagesContract ? stack.images.url : stack.recommendations.url;
}

/** A raw RPC call, as any local process could send it. */
async function call(service: RpcService, method: string, input: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await poolFor(urlOf(service)).request({
    method: 'POST', path: rpcPath(service.name, method), headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(input),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const credentials = (service: string, secret = stack.clusterSecret) => new ServiceCredentials({ clusterSecret: secret, identity: { service, instance: 'attacker-1' } });
const as = (service: string, callee: RpcService, secret?: string) => ({ [serviceAuthHeaders.service]: credentials(service, secret).tokenFor(callee.serviceName) });
const actingAs = (account: Account, callee: RpcService) => ({ [serviceAuthHeaders.user]: credentials(gatewayServiceName).assertUser({ userId: account.userId, name: account.name }, callee.serviceName) });

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedisRing(1)]);
  stack = await startStack({ createDatabase: postgres.createDatabase, redisNodes: redis.spec });
  api = apiClient(stack.gatewayUrl);
  [victim, attacker] = await Promise.all([api.newAccount('victim'), api.newAccount('attacker')]);
  const upload = await api.upload(victim.accessToken, await makeImage('png', 64, 64), { title: 'mine' });
  expect(upload.status).toBe(201);
  imageId = upload.body.imageID as string;
}, 120_000);

afterAll(async () => {
  await api?.close();
  await Promise.all([...pools.values()].map((pool) => pool.close()));
  await stack?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

describe('every RPC call', () => {
  it('is refused without a service credential, or with one made from another secret (401)', async () => {
    const stranger = 'another-cluster-secret-0123456789abcdef';
    for (const [, service] of contracts) {
      for (const method of Object.keys(service.methods)) {
        expect((await call(service, method, {})).status, `${service.name}.${method} anonymous`).toBe(401);
        expect((await call(service, method, {}, as(gatewayServiceName, service, stranger))).status, `${service.name}.${method} wrong secret`).toBe(401);
      }
    }
  });

  it("is refused with another service's credential where it matters (403)", async () => {
    // The images service may not log people in (around the gateway's rate limit) nor delete images.
    expect((await call(usersContract, 'Login', { name: victim.name, password: 'guess' }, as(imagesContract.serviceName, usersContract))).status).toBe(403);
    expect((await call(imagesContract, 'Delete', { imageId, callerId: victim.userId }, as(recommendationsContract.serviceName, imagesContract))).status).toBe(403);
    expect((await call(recommendationsContract, 'Like', { imageId, userId: victim.userId }, as(usersContract.serviceName, recommendationsContract))).status).toBe(403);
  });
});

describe("the end user's identity", () => {
  it('is not taken from a bare id: a forged or missing user assertion is refused', async () => {
    const gateway = (callee: RpcService) => as(gatewayServiceName, callee);
    // Without an assertion, or with the attacker's own, the victim's id in the input is refused.
    for (const headers of [gateway(imagesContract), { ...gateway(imagesContract), ...actingAs(attacker, imagesContract) }]) {
      expect([401, 403]).toContain((await call(imagesContract, 'Delete', { imageId, callerId: victim.userId }, headers)).status);
    }
    expect([401, 403]).toContain((await call(recommendationsContract, 'Like', { imageId, userId: victim.userId }, { ...gateway(recommendationsContract), ...actingAs(attacker, recommendationsContract) })).status);
    expect([401, 403]).toContain((await call(usersContract, 'Logout', { userId: victim.userId }, gateway(usersContract))).status);
    // An assertion made for one service does not work at another.
    expect([401, 403]).toContain((await call(imagesContract, 'Delete', { imageId, callerId: victim.userId }, { ...gateway(imagesContract), ...actingAs(victim, recommendationsContract) })).status);
    // The victim's image and session are intact.
    expect((await api.get(`/${imageId}/info`)).status).toBe(200);
    expect((await api.get('/me', { token: victim.accessToken })).status).toBe(200);
  });

  it('still flows through the gateway: the owner likes and deletes, a stranger cannot delete', async () => {
    expect((await api.request('POST', `/${imageId}/like`, { token: victim.accessToken })).status).toBe(200);
    expect((await api.request('DELETE', `/${imageId}`, { token: attacker.accessToken })).status).toBe(403);
    expect((await api.request('DELETE', `/${imageId}`, { token: victim.accessToken })).status).toBe(200);
    expect((await api.request('POST', '/logout', { token: victim.accessToken })).status).toBe(200);
  });
});

describe("the gateway's verification keys", () => {
  it('are taken only from answers signed by the cluster: a rogue users service is not believed', async () => {
    // A process posing as the users service (it answers on some port, without the secret).
    const rogue = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'attacker', x: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }] }));
    });
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    const rogueUrl = `http://127.0.0.1:${(rogue.address() as AddressInfo).port}`;
    const fromRogue = fixedTransport(rogueUrl, { credentials: credentials(gatewayServiceName) });
    const fromReal = fixedTransport(stack.users.url, { credentials: credentials(gatewayServiceName) });
    try {
      await expect(createRpcClient(usersContract, fromRogue).SigningKeys({}, { authenticatedAnswer: true })).rejects.toThrow(/not signed/);
      const real = await createRpcClient(usersContract, fromReal).SigningKeys({}, { authenticatedAnswer: true });
      expect(real.keys.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([fromRogue.close?.(), fromReal.close?.()]);
      await new Promise<void>((resolve) => rogue.close(() => resolve()));
    }
  });
});

describe('metrics', () => {
  it('are not served on the public port, nor on the services\' RPC ports', async () => {
    const publicPort = await api.get('/metrics');
    expect(publicPort.status).not.toBe(200);
    expect(publicPort.bytes.toString('utf8')).not.toContain('http_request_duration_seconds');
    for (const url of [stack.users.url, stack.images.url, stack.recommendations.url]) {
      const response = await fetch(`${url}/metrics`);
      expect(response.status, url).not.toBe(200);
      expect(await response.text()).not.toContain('http_request_duration_seconds');
    }
  });
});
