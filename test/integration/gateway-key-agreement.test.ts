import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetricsRegistry } from '../../src/platform/metrics.js';
import { createRpcClient, type RpcTransport } from '../../src/platform/rpc/client.js';
import { buildUsersApp } from '../../src/users/app.js';
import { usersConfigSchema } from '../../src/users/config.js';
import { integrationPostgres } from '../harness/context.js';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient, type ApiClient } from '../support/api-client.js';
import { trustedTestTransport } from '../support/credentials.js';
import { startDiscoveredGateway, type DiscoveredGateway } from '../support/discovered-gateway.js';
import { makeImage } from '../fixtures/images.js';

// Issue 12, item 3: a rogue USER SERVICE's SigningKeys answer made the gateway accept tokens
// signed with an attacker's key. Discovery now refuses instances without the cluster's
// credential (test/security/discovery-identity.test.ts) and the answer must carry the callee's
// MAC; behind those, the gateway replaces its keys only when two answers agree. Here the rogue
// is past the first two: a second, real users service with its own signing key and database,
// holding the cluster secret (a compromised host), registered beside the genuine one. The
// gateway, built in-process and finding the users service through discovery as in the cluster,
// balances round-robin, so a look for keys asks the rogue first at least every other time.
//
// The gateway looks again at most every 30 s (an unknown key id asks again): the test moves
// Date.now forward past that instead of waiting. Every process here is in this one, so they all
// see the same moved clock.

const usersName = usersContract.serviceName;
const refetchIntervalMs = 30_000;

let offsetMs = 0;
let stack: Stack;
let rogue: FastifyInstance;
let rogueRpc: RpcTransport;
let discovered: DiscoveredGateway;
let api: ApiClient;
let rogueAskedForKeys = 0;

beforeAll(async () => {
  // Before anything is built: the gateway's auth check keeps the Date.now it finds at its start.
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);

  stack = await startStack({ env: { users: { SCRYPT_LOG2_COST: '10' } } });
  const rogueDatabase = await integrationPostgres().createDatabase('users_rogue');
  rogue = await buildUsersApp({
    config: loadConfig(usersConfigSchema, {
      INSTANCE_NAME: 'users-rogue', DATABASE_URL: rogueDatabase, CLUSTER_SECRET: stack.clusterSecret,
      SIGNING_KEY_SECRET: randomBytes(32).toString('base64url'), SCRYPT_LOG2_COST: '10',
    }),
    logger: createLogger({ name: 'users-rogue', level: 'silent' }),
    metrics: createMetricsRegistry('users-rogue', { defaults: false }),
  });
  rogue.addHook('onRequest', async (request) => {
    if (request.url.includes('SigningKeys')) rogueAskedForKeys++;
  });
  await rogue.listen({ host: '127.0.0.1', port: 0 });
  rogueRpc = trustedTestTransport(`http://127.0.0.1:${(rogue.server.address() as { port: number }).port}`, { secret: stack.clusterSecret });

  // At first only the genuine instances: the gateway loads the genuine keys.
  discovered = await startDiscoveredGateway({
    clusterSecret: stack.clusterSecret,
    sharedState: stack.sharedState,
    instances: [[usersName, stack.users.url], [imagesContract.serviceName, stack.images.url], [recommendationsContract.serviceName, stack.recommendations.url]],
  });
  api = apiClient(discovered.url);
});

afterAll(async () => {
  await api?.close();
  await discovered?.stop();
  await rogueRpc?.close?.();
  await rogue?.close();
  await stack?.stop();
  vi.restoreAllMocks();
});

describe("the gateway's verification keys", () => {
  it('are not replaced by one differing SigningKeys answer of a rogue users instance', async () => {
    // A genuine user, and something of theirs to look at (answered without the users service).
    const genuine = await api.newAccount('genuine');
    const upload = await api.upload(genuine.accessToken, await makeImage('png', 32, 32));
    expect(upload.status, JSON.stringify(upload.body)).toBe(201);
    const likePath = `/${upload.body.imageID as string}/like`;
    const asGenuine = () => api.get(likePath, { token: genuine.accessToken });
    expect((await asGenuine()).status).toBe(200);

    // The attacker's token: from the rogue, signed with its key, which the gateway has never seen.
    const rogueUsers = createRpcClient(usersContract, rogueRpc);
    const attackerName = `attacker_${randomBytes(4).toString('hex')}`;
    await rogueUsers.Register({ name: attackerName, password: 'an attacker with a long password' });
    const { accessToken: forged } = await rogueUsers.Login({ name: attackerName, password: 'an attacker with a long password' });
    const rogueKeys = (await rogueUsers.SigningKeys({})).keys.map((key) => key.kid);
    expect(rogueKeys).toContain(decodeProtectedHeader(forged).kid);
    expect(rogueKeys).not.toContain(decodeProtectedHeader(genuine.accessToken).kid);
    const asAttacker = () => api.get(likePath, { token: forged });
    expect((await asAttacker()).status).toBe(401);

    // The rogue joins: the gateway now balances its users calls over both instances.
    const rogueUrl = `http://127.0.0.1:${(rogue.server.address() as { port: number }).port}`;
    await discovered.register(usersName, rogueUrl);
    expect([...discovered.transport.instancesOf(usersName)].sort()).toEqual([new URL(stack.users.url).host, new URL(rogueUrl).host].sort());
    rogueAskedForKeys = 0;

    // Each round, the forged token's unknown key id makes the gateway look for keys again.
    for (let round = 0; round < 4; round++) {
      offsetMs += refetchIntervalMs + 1_000;
      const refused = await asAttacker();
      expect(refused.status, `round ${round}: ${JSON.stringify(refused.body)}`).toBe(401);
      expect(refused.body).toMatchObject({ code: 'UNAUTHENTICATED' });
      const kept = await asGenuine();
      expect(kept.status, `round ${round}: ${JSON.stringify(kept.body)}`).toBe(200);
    }
    // The rogue was asked, and answered with its own key: the rounds did reach the rule this test is about.
    expect(rogueAskedForKeys).toBeGreaterThanOrEqual(1);
  });
});
