import { ServiceCredentials } from '../../src/platform/service-auth.js';
import type { Clock } from '../../src/platform/clock.js';
import { gatewayServiceName, imagesAccess, recommendationsAccess, usersAccess } from '../../src/contracts/access.js';
import { usersContract } from '../../src/contracts/users.js';
import { imagesContract } from '../../src/contracts/images.js';
import { recommendationsContract } from '../../src/contracts/recommendations.js';
import { fixedTransport, type RpcTransport } from '../../src/platform/rpc/client.js';
import { rpcHeaders, type MethodAccess } from '../../src/platform/rpc/contract.js';

// Service credentials for tests that wire processes by hand: one cluster secret shared by the
// servers and the callers a test builds (the harness's stacks and clusters make their own).

export const testClusterSecret = 'test-cluster-secret-0123456789abcdef';

export function testCredentials(service: string = gatewayServiceName, instance = service.toLowerCase().replace(/\s+/g, '-'), secret = testClusterSecret, clock?: Pick<Clock, 'now'>): ServiceCredentials {
  return new ServiceCredentials({ clusterSecret: secret, identity: { service, instance }, ...(clock ? { clock } : {}) });
}

export { gatewayServiceName };

const accessByService: Record<string, Readonly<Record<string, MethodAccess>>> = {
  [usersContract.serviceName]: usersAccess,
  [imagesContract.serviceName]: imagesAccess,
  [recommendationsContract.serviceName]: recommendationsAccess,
};

/**
 * For tests that call a service directly, as its legitimate caller would: each call goes out
 * with the credential of a service allowed to make it (src/contracts/access.ts), and acting for
 * the user its input names, as if the gateway had verified that user. Tests of the checks
 * themselves (test/security) build their requests by hand instead.
 */
export function trustedTestTransport(origin: string, options: { secret?: string; connections?: number } = {}): RpcTransport {
  const byCaller = new Map<string, RpcTransport>();
  const transportFor = (caller: string) => {
    let transport = byCaller.get(caller);
    if (!transport) {
      transport = fixedTransport(origin, { credentials: testCredentials(caller, undefined, options.secret), ...(options.connections ? { connections: options.connections } : {}) });
      byCaller.set(caller, transport);
    }
    return transport;
  };
  return {
    send: (request) => {
      const method = request.path.slice(request.path.indexOf('.') + 1);
      const access = accessByService[request.serviceName]?.[method];
      const field = access?.actingUserField;
      let actingUser = request.actingUser;
      if (field && !actingUser) {
        const length = Number(request.headers[rpcHeaders.jsonLength] ?? -1);
        const json = Buffer.isBuffer(request.body) ? request.body.subarray(0, length >= 0 ? length : undefined).toString('utf8') : request.body;
        const userId = (JSON.parse(json || '{}') as Record<string, unknown>)[field];
        if (typeof userId === 'string') actingUser = { userId, name: 'test-user' };
      }
      return transportFor(access?.callers?.[0] ?? gatewayServiceName).send({ ...request, ...(actingUser ? { actingUser } : {}) });
    },
    close: async () => {
      await Promise.all([...byCaller.values()].map((transport) => transport.close?.()));
    },
  };
}
