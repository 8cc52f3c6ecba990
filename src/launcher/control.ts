import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { errorCode } from '../platform/errors.js';
import { UnknownInstanceError } from './errors.js';
import type { ClusterLayout } from './layout.js';

// A small HTTP endpoint on 127.0.0.1 through which `easel status`, `easel kill` and
// `easel down` talk to the running launcher. A random token (kept in launcher.json,
// readable only by the launcher's user) guards it.

/** What the control endpoint needs of a running cluster (cluster.ts's handle has it all). */
export interface ControlledCluster {
  readonly startupMs: number;
  readonly gatewayUrl: string;
  readonly discoveryUrls: readonly string[];
  readonly prometheusUrl: string | undefined;
  readonly redisNodes: string;
  readonly layout: Pick<ClusterLayout, 'uploadTransaction'>;
  status(): ReadonlyArray<{ instance: string; pid: number | undefined }>;
  kill(instance: string, signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface ControlServer {
  port: number;
  url: string;
  token: string;
  close(): Promise<void>;
}

export const tokenHeader = 'x-easel-token';

export function startControlServer(cluster: ControlledCluster): Promise<ControlServer> {
  const token = randomBytes(16).toString('hex');
  const server = createServer((req, res) => {
    handle(cluster, token, req, res).catch((error: Error) => send(res, 500, { error: error.message }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        token,
        close: () => new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

async function handle(cluster: ControlledCluster, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.headers[tokenHeader] !== token) return send(res, 403, { error: 'bad or missing token' });
  const url = new URL(req.url ?? '/', 'http://control');
  if (req.method === 'GET' && url.pathname === '/status') {
    return send(res, 200, {
      pid: process.pid,
      startupMs: cluster.startupMs,
      gatewayUrl: cluster.gatewayUrl,
      discoveryUrls: cluster.discoveryUrls,
      prometheusUrl: cluster.prometheusUrl ?? null,
      redisNodes: cluster.redisNodes,
      uploadTransaction: cluster.layout.uploadTransaction,
      processes: cluster.status(),
    });
  }
  if (req.method === 'POST' && url.pathname === '/kill') {
    const instance = url.searchParams.get('instance') ?? '';
    const signal = (url.searchParams.get('signal') ?? 'SIGKILL') as NodeJS.Signals;
    try {
      const before = cluster.status().find((p) => p.instance === instance);
      cluster.kill(instance, signal);
      return send(res, 200, { instance, pid: before?.pid ?? null, signal });
    } catch (error) {
      return send(res, errorCode(error) === UnknownInstanceError.code ? 404 : 409, { error: (error as Error).message });
    }
  }
  if (req.method === 'POST' && url.pathname === '/down') {
    send(res, 202, { stopping: true });
    void cluster.stop();
    return;
  }
  return send(res, 404, { error: 'no such endpoint' });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
