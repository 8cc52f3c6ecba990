import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { createLogger } from '../src/platform/log.js';
import { createMetricsRegistry } from '../src/platform/metrics.js';
import { createRpcClient } from '../src/platform/rpc/client.js';
import { createDiscoveryTransport, type BalancingMode } from '../src/platform/rpc/discovery-transport.js';
import { buildEchoApp, echoService } from '../test/support/echo-service.js';
import { startRegistration } from '../src/platform/discovery/registration.js';
import { buildDiscoveryApp } from '../src/discovery/app.js';
import { serviceAuthHeaders } from '../src/platform/service-auth.js';
import { runInterleaved, type BenchCase, type CaseResult, numberArg } from './interleaved.js';
import { testClusterSecret, testCredentials } from '../test/support/credentials.js';

// RPC client overhead: calls per second and p99 of one small RPC (Echo) through the client in
// snapshot and in ticket mode, beside a bare undici call to the same server, in one run.
// The server side (an echo service and a discovery replica) runs in a child process so the
// client and the server each have a core. 127.0.0.1 only; each case is bounded in time.
//
//   npm run bench:rpc -- [--duration=5000] [--rounds=5] [--concurrency=16]

const durationMs = numberArg('duration', 5_000);
const warmupMs = numberArg('warmup', 1_000);
const concurrency = numberArg('concurrency', 16);
const rounds = numberArg('rounds', 5);

if (process.argv.includes('--serve')) await serve();
else await main();

/** Child process: a discovery replica and one echo instance registered with it. */
async function serve(): Promise<void> {
  const logger = createLogger({ name: 'bench-server', level: 'warn' });
  const { app: discovery } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'bench-discovery', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, CLUSTER_SECRET: testClusterSecret, SERVICE_NAMES: ['USER SERVICE', 'IMAGE SERVICE', 'RECOMMENDATION SERVICE', 'ECHO SERVICE'] },
    logger,
    metrics: createMetricsRegistry('bench-discovery', { defaults: false }),
  });
  await discovery.listen({ host: '127.0.0.1', port: 0 });
  const echo = buildEchoApp('bench-echo');
  await echo.listen({ host: '127.0.0.1', port: 0 });
  const discoveryAddress = `127.0.0.1:${(discovery.server.address() as AddressInfo).port}`;
  const echoAddress = `127.0.0.1:${(echo.server.address() as AddressInfo).port}`;
  const registration = startRegistration({ discovery: [discoveryAddress], serviceName: echoService.serviceName, host: echoAddress, logger, credentials: testCredentials(echoService.serviceName) });
  await registration.ready();
  process.stdout.write(`${JSON.stringify({ discovery: discoveryAddress, echo: echoAddress })}\n`);
  // Stops with the parent.
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const addresses = await new Promise<{ discovery: string; echo: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const logger = createLogger({ name: 'bench', level: 'warn' });
  const bare = new Pool(`http://${addresses.echo}`, { connections: 64, pipelining: 1 });
  const payload = JSON.stringify({ text: 'hello' });
  // The echo server refuses calls without a service token: the bare call sends one made once.
  const bareHeaders = { 'content-type': 'application/json', [serviceAuthHeaders.service]: testCredentials().tokenFor(echoService.serviceName) };
  const transports = (['snapshot', 'ticket'] as BalancingMode[]).map((mode) => ({ mode, transport: createDiscoveryTransport({ credentials: testCredentials(), discovery: [addresses.discovery], mode, logger }) }));
  const cases: BenchCase[] = [
    {
      name: 'bare undici',
      call: async () => {
        const response = await bare.request({ method: 'POST', path: '/rpc/Echo.Echo', headers: bareHeaders, body: payload });
        const body = (await response.body.json()) as { text: string };
        if (response.statusCode !== 200 || body.text !== 'hello') throw new Error(`bad answer ${response.statusCode}`);
      },
    },
    ...transports.map(({ mode, transport }) => {
      const client = createRpcClient(echoService, transport);
      return {
        name: `client, ${mode}`,
        call: async () => {
          const answer = await client.Echo({ text: 'hello' });
          if (answer.text !== 'hello') throw new Error('bad answer');
        },
      };
    }),
  ];
  try {
    const results = await runInterleaved(cases, { durationMs, rounds, warmupMs, concurrency });
    report(results);
  } finally {
    await bare.close();
    await Promise.all(transports.map((t) => t.transport.close()));
    child.stdin!.end();
    child.kill('SIGTERM');
  }
}

function report(results: CaseResult[]): void {
  const bare = results[0]!;
  const rows = results.map((r) => ({
    case: r.name,
    'calls/s': Math.round(r.callsPerSecond),
    'p50 ms': r.p50Ms.toFixed(2),
    'p99 ms': r.p99Ms.toFixed(2),
    errors: r.errors,
    'throughput vs bare': `${((r.callsPerSecond / bare.callsPerSecond) * 100).toFixed(0)}%`,
    'p99 vs bare': `${(r.p99Ms / bare.p99Ms).toFixed(2)}x`,
  }));
  console.log(`RPC bench: Echo over 127.0.0.1, ${concurrency} concurrent callers, ${durationMs / 1000} s per case in ${rounds} interleaved slices, after ${warmupMs / 1000} s warm-up`);
  console.table(rows);
  const snapshot = results.find((r) => r.name.endsWith('snapshot'));
  if (snapshot) {
    const ratio = snapshot.callsPerSecond / bare.callsPerSecond;
    console.log(`snapshot mode carries ${(ratio * 100).toFixed(0)}% of the bare call's throughput (aim: >= 80%)`);
  }
  console.log(JSON.stringify({ bench: 'rpc', concurrency, durationMs, results }));
}
