import { ServiceCredentials } from '../../src/platform/service-auth.js';
import type { Clock } from '../../src/platform/clock.js';
import { gatewayServiceName } from '../../src/contracts/access.js';

// Service credentials for tests that wire processes by hand: one cluster secret shared by the
// servers and the callers a test builds (the harness's stacks and clusters make their own).

export const testClusterSecret = 'test-cluster-secret-0123456789abcdef';

export function testCredentials(service: string = gatewayServiceName, instance = service.toLowerCase().replace(/\s+/g, '-'), secret = testClusterSecret, clock?: Pick<Clock, 'now'>): ServiceCredentials {
  return new ServiceCredentials({ clusterSecret: secret, identity: { service, instance }, ...(clock ? { clock } : {}) });
}

export { gatewayServiceName };
