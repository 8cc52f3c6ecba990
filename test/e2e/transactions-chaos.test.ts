import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/cluster.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';
import { sleep, waitFor } from '../../src/platform/wait.js';
import { repoRoot } from '../../src/launcher/paths.js';
import { readConsistency, type Consistency } from '../integration/transactions/consistency.js';

// Chaos for the upload transaction (docs/transactions.md), in both protocols: uploads from many
// users through the gateway while both images instances (the coordinators) are SIGKILLed twice
// and a recommendations instance (a participant) once; the launcher restarts them. Afterwards
// every acknowledged upload is readable and listed under its tag, and the three databases agree
// once recovery has ended every unfinished transaction (a bounded wait, printed as it goes).

const loadMs = 20_000;
const concurrency = 6;
const faults: Array<[atMs: number, instance: string]> = [
  [3_000, 'images-1'], [6_000, 'images-2'], [9_000, 'recommendations-1'], [12_000, 'images-1'], [15_000, 'images-2'],
];
// A client keeps retrying an upload it was not answered for good this long after the load ends.
const retryGraceMs = 10_000;
// Recovery takes over after 2 s, runs every 0.5 s; a participant asks after 3 s: ends come fast.
const settleMs = 30_000;

describe.each(['saga', '2pc'] as const)('upload transactions under chaos (%s, through the gateway)', (mode) => {
  let cluster: TestCluster;
  let client: ApiClient;
  let accounts: Account[] = [];
  let passed = false;
  // Our own data directory, kept when the test fails: its logs/ are what to read then.
  const dataDir = join(repoRoot(), '.easel', 'test', `tx-chaos-${mode}-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    cluster = await startTestCluster({
      keepData: true,
      layout: {
        dataDir,
        uploadTransaction: mode,
        serviceEnv: {
          UPLOADS_PER_USER: '100000', UPLOAD_QUOTA: '100000',
          TRANSACTION_RECOVER_AFTER_MS: '2000', TRANSACTION_RECOVERY_INTERVAL_MS: '500',
          PREPARED_RESOLVE_AFTER_MS: '3000', PREPARED_RESOLVE_INTERVAL_MS: '500',
        },
      },
    });
    client = apiClient(cluster.gatewayUrl, { connections: concurrency * 2, timeoutMs: 10_000 });
    // Right after a start the gateway may still be learning the instances (503): wait that out.
    accounts = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      waitFor(`account txchaos${i}`, () => client.newAccount(`txchaos${i}`).catch(() => undefined), { timeoutMs: 60_000, intervalMs: 500 })));
  });

  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
    if (passed) rmSync(dataDir, { recursive: true, force: true });
    else console.log(`[tx-chaos ${mode}] failed: the cluster's logs are kept in ${join(dataDir, 'logs')}`);
  });

  it('keeps every acknowledged upload, and quota, images and index agree', async () => {
    const acknowledged: Array<{ imageId: string; tag: string }> = [];
    const answers = new Map<string, number>();
    const note = (answer: string) => answers.set(answer, (answers.get(answer) ?? 0) + 1);
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    let counter = 0;
    const worker = async () => {
      while (Date.now() - started < loadMs) {
        const account = accounts[counter % accounts.length]!;
        const tag = `chaos${counter % 5}`;
        const image = await makeImage('png', 16 + (counter++ % 32), 16);
        const key = randomUUID();
        // A careful client: the same Idempotency-Key until it is answered for good.
        for (let attempt = 0; attempt < 6 && Date.now() - started < loadMs + retryGraceMs; attempt++) {
          const reply = await client.request('POST', '/img', { token: account.accessToken, json: { imageBlob: image.toString('base64'), tags: [tag] }, headers: { 'idempotency-key': key } })
            .catch(() => undefined);
          note(reply ? String(reply.status) : 'no answer');
          if (reply?.status === 201) {
            acknowledged.push({ imageId: reply.body.imageID as string, tag });
            break;
          }
          if (reply && reply.status < 500 && reply.status !== 429) break;
          await sleep(500);
        }
      }
    };
    const chaos = async () => {
      for (const [atMs, instance] of faults) {
        await sleep(Math.max(0, started + atMs - Date.now()));
        await cluster.waitReady(instance, 30_000);
        cluster.kill(instance, 'SIGKILL');
        console.log(`[tx-chaos ${mode}] ${elapsed()}: SIGKILL ${instance}`);
      }
    };
    await Promise.all([...Array.from({ length: concurrency }, worker), chaos()]);
    console.log(`[tx-chaos ${mode}] ${elapsed()}: load over, ${acknowledged.length} uploads acknowledged; answers ${JSON.stringify(Object.fromEntries(answers))}`);
    for (const instance of ['images-1', 'images-2', 'recommendations-1']) await cluster.waitReady(instance, 60_000);
    expect(acknowledged.length).toBeGreaterThan(10);

    // Recovery ends what the faults left unfinished; say what is still open while waiting.
    const databases = { users: cluster.databaseUrl('users'), images: cluster.databaseUrl('images'), recommendations: cluster.databaseUrl('recommendations') };
    let last: Consistency | undefined;
    let lastPrinted = 0;
    const settled = await waitFor('every transaction ended and nothing left prepared', async () => {
      last = await readConsistency(databases);
      const open = { unfinished: last.unfinishedTransactions, invisible: last.invisible, prepared: last.prepared };
      const done = open.unfinished === 0 && open.invisible === 0 && Object.values(open.prepared).every((n) => n === 0);
      if (!done && Date.now() - lastPrinted > 3_000) {
        lastPrinted = Date.now();
        console.log(`[tx-chaos ${mode}] ${elapsed()}: waiting for recovery: ${JSON.stringify(open)}`);
      }
      return done ? last : undefined;
    }, { timeoutMs: settleMs, intervalMs: 250 }).catch((error: unknown) => {
      throw new Error(`not settled within ${settleMs} ms: ${JSON.stringify(last)}`, { cause: error });
    });
    console.log(`[tx-chaos ${mode}] ${elapsed()}: settled`);
    expect(settled.quotaByUser).toEqual(settled.imagesByAuthor);
    expect(settled.notIndexed).toEqual([]);
    expect(settled.orphanIndexRows).toEqual([]);

    // Every acknowledged upload is readable and listed under its tag (once).
    for (const { imageId } of acknowledged) {
      const read = await waitFor(`GET /${imageId}`, async () => {
        const reply = await client.request('GET', `/${imageId}`);
        return reply.status === 200 ? reply : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      expect(read.status).toBe(200);
    }
    for (const tag of new Set(acknowledged.map((item) => item.tag))) {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.request('GET', `/images?tag=${tag}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        listed.push(...(page.body.images as Array<{ imageID: string }>).map((item) => item.imageID));
        cursor = (page.body.nextCursor as string | null | undefined) ?? undefined;
      } while (cursor);
      const expected = acknowledged.filter((item) => item.tag === tag).map((item) => item.imageId);
      expect(listed).toEqual(expect.arrayContaining(expected));
      expect(new Set(listed).size).toBe(listed.length);
    }
    passed = true;
  });
});
