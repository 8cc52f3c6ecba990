import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { apiClient, defaultTestPassword, type ApiClient } from '../support/api-client.js';

// What every security test file shares: the one cluster of cluster-setup.ts, a client for its
// gateway, and the launcher's view of its processes (to show that nothing was restarted).

export function securityCluster() {
  return inject('securityCluster');
}

export function gateway(options: { connections?: number; timeoutMs?: number } = {}): ApiClient {
  return apiClient(securityCluster().gatewayUrl, options);
}

export interface ProcessView {
  instance: string;
  pid: number | undefined;
  restarts: number;
  state: string;
}

/** Every supervised process with its pid and restart count, from the launcher's control endpoint. */
export async function processes(): Promise<ProcessView[]> {
  const { controlUrl, controlToken } = securityCluster();
  const response = await fetch(`${controlUrl}/status`, { headers: { 'x-easel-token': controlToken } });
  const status = (await response.json()) as { processes: ProcessView[] };
  return status.processes.map(({ instance, pid, restarts, state }) => ({ instance, pid, restarts, state }));
}

/** A client address of our own (TEST-NET-2 and documentation IPv6), so per-address limits of one test do not touch another's. */
export function freshAddress(kind: 'v4' | 'v6' = 'v4'): string {
  const bytes = randomBytes(4);
  return kind === 'v4' ? `198.51.${bytes[0]}.${bytes[1]! % 254 + 1}` : `2001:db8:${bytes.readUInt16BE(0).toString(16)}:${bytes.readUInt16BE(2).toString(16)}::1`;
}

/** Signs up and logs in a fresh account from `address`. */
export async function newAccount(client: ApiClient, label = 'sec', address = freshAddress(), password = defaultTestPassword) {
  const name = `${label}_${randomBytes(4).toString('hex')}`;
  const headers = { 'x-forwarded-for': address };
  const signUp = await client.request('POST', '/signup', { json: { name, password }, headers });
  if (signUp.status !== 201) throw new Error(`sign-up of ${name} answered ${signUp.status}: ${JSON.stringify(signUp.body)}`);
  const login = await client.request('POST', '/login', { json: { name, password }, headers });
  if (login.status !== 200) throw new Error(`login of ${name} answered ${login.status}: ${JSON.stringify(login.body)}`);
  return { name, password, accessToken: login.body.accessToken as string, refreshToken: login.body.refreshToken as string, login };
}
