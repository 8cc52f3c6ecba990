import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/platform/log.js';
import { createRpcClient } from '../../../../src/platform/rpc/client.js';
import { createDiscoveryTransport } from '../../../../src/platform/rpc/discovery-transport.js';
import type { DiscoveryClient } from '../../../../src/platform/discovery/discovery-client.js';
import { freePort } from '../../../../src/platform/ports.js';
import { buildEchoApp, echoService } from '../../../support/echo-service.js';
import { testCredentials } from '../../../support/credentials.js';

// Where a call ends when the first instance it tries misbehaves, as one table: each row is an
// instance A that fails in one way, beside a healthy instance B. A call safe to repeat (Echo)
// moves on to B after an answer worth another instance or a failure mid-call; a call that is
// not (Record) moves on only when the failure proves nothing reached A. Real sockets on
// 127.0.0.1; discovery is a fixed snapshot listing A first, so every call tries A first.
// The classification itself is tabled in test/unit/platform/rpc/retry-classification.test.ts.

const logger = createLogger({ name: 'retry-table', level: 'silent' });
const perTryTimeoutMs = 300;

type Misbehaviour =
  | { kind: 'answers'; status: number; code: string }
  | { kind: 'refuses' }
  | { kind: 'resets' }
  | { kind: 'hangs' };

interface Row {
  what: string;
  a: Misbehaviour;
  /** Where a call safe to repeat ends: served by B, or failed with this code. */
  idempotent: 'B' | string;
  /** Where a call that is not safe to repeat ends. */
  notIdempotent: 'B' | string;
}

const table: Row[] = [
  { what: 'answers 502', a: { kind: 'answers', status: 502, code: 'UNAVAILABLE' }, idempotent: 'B', notIdempotent: 'UNAVAILABLE' },
  { what: 'answers 503', a: { kind: 'answers', status: 503, code: 'UNAVAILABLE' }, idempotent: 'B', notIdempotent: 'UNAVAILABLE' },
  { what: 'answers 504', a: { kind: 'answers', status: 504, code: 'DEADLINE_EXCEEDED' }, idempotent: 'B', notIdempotent: 'DEADLINE_EXCEEDED' },
  { what: 'answers 500', a: { kind: 'answers', status: 500, code: 'INTERNAL' }, idempotent: 'INTERNAL', notIdempotent: 'INTERNAL' },
  { what: 'answers 429', a: { kind: 'answers', status: 429, code: 'RATE_LIMITED' }, idempotent: 'RATE_LIMITED', notIdempotent: 'RATE_LIMITED' },
  { what: 'answers 404', a: { kind: 'answers', status: 404, code: 'NOT_FOUND' }, idempotent: 'NOT_FOUND', notIdempotent: 'NOT_FOUND' },
  { what: 'refuses the connection (nothing listens)', a: { kind: 'refuses' }, idempotent: 'B', notIdempotent: 'B' },
  { what: 'resets the connection after reading the call', a: { kind: 'resets' }, idempotent: 'B', notIdempotent: 'UNAVAILABLE' },
  { what: 'never answers (per-try timeout)', a: { kind: 'hangs' }, idempotent: 'B', notIdempotent: 'UNAVAILABLE' },
];

let instanceB: FastifyInstance;
let hostB: string;

beforeAll(async () => {
  instanceB = buildEchoApp('B');
  await instanceB.listen({ host: '127.0.0.1', port: 0 });
  hostB = `127.0.0.1:${(instanceB.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await instanceB?.close();
});

/** Instance A, failing as `behaviour` says; counts the calls that reached it. */
async function startInstanceA(behaviour: Misbehaviour): Promise<{ host: string; reached: () => number; close(): Promise<void> }> {
  let reached = 0;
  if (behaviour.kind === 'refuses') {
    const port = await freePort();
    return { host: `127.0.0.1:${port}`, reached: () => reached, close: async () => undefined };
  }
  let server: HttpServer | TcpServer;
  const sockets = new Set<Socket>();
  if (behaviour.kind === 'answers') {
    server = createHttpServer((req, res) => {
      reached++;
      req.resume();
      req.on('end', () => {
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: behaviour.code, message: `instance A answers ${behaviour.status}` }));
      });
    });
  } else {
    server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => {
        reached++;
        if (behaviour.kind === 'resets') socket.resetAndDestroy();
        // 'hangs': read the call and never answer.
      });
    });
  }
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    reached: () => reached,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Discovery as a fixed snapshot: A, then B. */
function fixedDiscovery(hosts: string[]): DiscoveryClient {
  return {
    snapshot: async () => ({ replica: 'fixed', version: 1, leaseMs: 5_000, uptimeMs: 60_000, services: { [echoService.serviceName]: hosts.map((host) => ({ host })) } }),
    issueTicket: async () => {
      throw new Error('snapshot mode takes no tickets');
    },
    closeTicket: async () => undefined,
    close: async () => undefined,
  };
}

/** Where one call ends: 'B' when B served it, else the failure's code. */
async function outcome(call: () => Promise<{ instance: string }>): Promise<string> {
  try {
    const answer = await call();
    return answer.instance;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('where a call ends when the first instance fails', () => {
  it.each(table)('instance A $what: a call safe to repeat ends at $idempotent, one that is not at $notIdempotent', async (row) => {
    const a = await startInstanceA(row.a);
    // A fresh transport for each call, so each tries A first with a closed breaker.
    const run = async (method: 'Echo' | 'Record') => {
      const transport = createDiscoveryTransport({ credentials: testCredentials(), discovery: [], mode: 'snapshot', logger, perTryTimeoutMs, discoveryClient: fixedDiscovery([a.host, hostB]), reportTrippedInstances: false });
      try {
        const client = createRpcClient(echoService, transport);
        return await outcome(() => client[method]({ text: row.what }, { timeoutMs: 5_000 }));
      } finally {
        await transport.close();
      }
    };
    try {
      expect(await run('Echo')).toBe(row.idempotent);
      expect(await run('Record')).toBe(row.notIdempotent);
      // A really was tried first each time (a refused connection reaches nothing).
      expect(a.reached()).toBe(row.a.kind === 'refuses' ? 0 : 2);
    } finally {
      await a.close();
    }
  });
});
