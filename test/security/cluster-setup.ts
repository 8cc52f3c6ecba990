import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startTestCluster, type TestCluster } from '../harness/cluster.js';

// Vitest globalSetup for the security tier: ONE whole cluster (through the launcher, on free
// ports) for every file, so the tier pays one start-up. The gateway trusts X-Forwarded-For from
// loopback here (TRUST_PROXY), so a test can speak from as many client addresses as it needs,
// and its time limits and connection cap are small enough to reach within a test; everything
// else runs with the defaults an operator gets.

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared security cluster. */
    securityCluster: { gatewayUrl: string; discoveryUrls: string[]; controlUrl: string; controlToken: string; dataDir: string };
  }
}

/** The gateway settings of the security cluster (serviceEnv: only the gateway reads these names). */
export const edgeSettings = {
  TRUST_PROXY: '127.0.0.1',
  REQUEST_TIMEOUT_MS: '6000',
  HEADERS_TIMEOUT_MS: '3000',
  MAX_CONNECTIONS: '64',
} as const;

let cluster: TestCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startTestCluster({ layout: { serviceEnv: edgeSettings } });
  const state = JSON.parse(readFileSync(join(cluster.layout.dataDir, 'launcher.json'), 'utf8')) as { controlPort: number; token: string };
  project.provide('securityCluster', {
    gatewayUrl: cluster.gatewayUrl,
    discoveryUrls: [...cluster.discoveryUrls],
    controlUrl: `http://127.0.0.1:${state.controlPort}`,
    controlToken: state.token,
    dataDir: cluster.layout.dataDir,
  });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
