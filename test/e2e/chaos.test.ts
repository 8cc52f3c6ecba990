import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/cluster.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';
import { sleep } from '../../src/platform/wait.js';
import { quantile } from '../../bench/interleaved.js';

// Chaos drill (issue 7): a mixed load through the gateway for 60 s while one replica of each
// service is SIGKILLed in turn (the launcher restarts it), a discovery replica dies, and an
// images replica is frozen with SIGSTOP for 10 s. Afterwards every acknowledged upload is read
// back and each author's listing is checked for duplicates.

const loadMs = 60_000;
const faultsFromMs = 10_000;
const faultsUntilMs = 50_000;
const concurrency = 6;

type Kind = 'get' | 'login' | 'upload' | 'like';
type Phase = 'before' | 'during' | 'after';
interface Sample { kind: Kind; phase: Phase; ok: boolean; ms: number; status: number; error?: string }
interface Acknowledged { imageId: string; author: string; sha256: string }

const password = 'chaos drill password';
let cluster: TestCluster;
let client: ApiClient;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('chaos: replicas die and freeze under a mixed load', () => {
  const samples: Sample[] = [];
  const acknowledged: Acknowledged[] = [];
  const faultLog: string[] = [];
  let accounts: Account[] = [];
  const imageIds: string[] = [];

  beforeAll(async () => {
    // Two gateway workers, as in production: a Node cluster behind one port.
    // Rate limits and quotas are not what this drill measures: lift them.
    cluster = await startTestCluster({ layout: { gateway: { workers: 2 }, serviceEnv: { UPLOADS_PER_USER: '100000', UPLOAD_QUOTA: '100000' } } });
    client = apiClient(cluster.gatewayUrl, { connections: concurrency * 2, timeoutMs: 20_000 });
    accounts = await Promise.all(['a', 'b', 'c', 'd'].map((label) => client.newAccount(`chaos_${label}`, password)));
    for (const account of accounts) {
      const image = await makeImage('png', 64, 48);
      const upload = await client.request('POST', '/img', { token: account.accessToken, json: { imageBlob: image.toString('base64'), tags: ['seed'] } });
      expect(upload.status, JSON.stringify(upload.body)).toBe(201);
      imageIds.push(upload.body.imageID as string);
      acknowledged.push({ imageId: upload.body.imageID as string, author: account.name, sha256: sha256(image) });
    }
  });

  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
  });

  it('loses nothing, duplicates nothing, and fails no idempotent request', async () => {
    const started = Date.now();
    const phaseAt = (t: number): Phase => (t < faultsFromMs ? 'before' : t < faultsUntilMs + 5_000 ? 'during' : 'after');
    let uploadCounter = 0;

    const oneRequest = async (kind: Kind) => {
      const account = accounts[Math.floor(Math.random() * accounts.length)]!;
      const imageId = imageIds[Math.floor(Math.random() * imageIds.length)]!;
      switch (kind) {
        case 'get': {
          const r = await client.request('GET', `/${imageId}`);
          return { status: r.status, ok: r.status === 200 && typeof r.body.imageBlob === 'string' && (r.body.imageBlob as string).length > 0 };
        }
        case 'login': {
          const r = await client.request('POST', '/login', { json: { name: account.name, password } });
          return { status: r.status, ok: r.status === 200 && typeof r.body.accessToken === 'string' };
        }
        case 'like': {
          const r = await client.request('POST', `/${imageId}/like`, { token: account.accessToken });
          return { status: r.status, ok: r.status === 200 };
        }
        case 'upload': {
          // A client that retries a failed upload with the same Idempotency-Key, as a careful client would.
          const image = await makeImage('png', 32 + (uploadCounter++ % 64), 24);
          const key = randomUUID();
          let last = { status: 0, body: {} as Record<string, unknown> };
          for (let attempt = 0; attempt < 3; attempt++) {
            last = await client.request('POST', '/img', { token: account.accessToken, json: { imageBlob: image.toString('base64'), tags: ['chaos'] }, headers: { 'idempotency-key': key } });
            if (last.status === 201) {
              acknowledged.push({ imageId: last.body.imageID as string, author: account.name, sha256: sha256(image) });
              return { status: 201, ok: true };
            }
            if (last.status < 500 && last.status !== 429) break;
            await sleep(500);
          }
          return { status: last.status, ok: false, error: String(last.body.error ?? '') };
        }
      }
    };

    const kinds: Kind[] = ['get', 'get', 'get', 'get', 'get', 'like', 'like', 'login', 'upload', 'get'];
    const worker = async (index: number) => {
      let n = index;
      while (Date.now() - started < loadMs) {
        const kind = kinds[n++ % kinds.length]!;
        const t0 = Date.now();
        let outcome: { status: number; ok: boolean; error?: string };
        try {
          outcome = await oneRequest(kind);
        } catch (error) {
          outcome = { status: 0, ok: false, error: (error as Error).message };
        }
        samples.push({ kind, phase: phaseAt(t0 - started), ok: outcome.ok, ms: Date.now() - t0, status: outcome.status, ...(outcome.error ? { error: outcome.error } : {}) });
      }
    };

    const at = (ms: number, what: string, action: () => unknown | Promise<unknown>) =>
      new Promise<void>((resolve) => setTimeout(async () => {
        faultLog.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
        try {
          await action();
        } catch (error) {
          faultLog.push(`  failed: ${(error as Error).message}`);
        }
        resolve();
      }, ms));
    const faults = Promise.all([
      at(10_000, 'SIGKILL users-1', () => cluster.kill('users-1')),
      at(16_000, 'SIGKILL images-1', () => cluster.kill('images-1')),
      at(22_000, 'SIGKILL recommendations-1', () => cluster.kill('recommendations-1')),
      at(28_000, 'SIGKILL discovery-1', () => cluster.kill('discovery-1')),
      at(34_000, 'SIGSTOP images-2 for 10 s', () => cluster.kill('images-2', 'SIGSTOP')),
      at(44_000, 'SIGCONT images-2', () => cluster.kill('images-2', 'SIGCONT')),
      at(46_000, 'SIGKILL users-2', () => cluster.kill('users-2')),
    ]);
    await Promise.all([faults, ...Array.from({ length: concurrency }, (_, i) => worker(i))]);

    // Every process is back.
    await expect.poll(() => cluster.status().filter((p) => p.state !== 'ready').map((p) => p.instance), { timeout: 30_000, interval: 250 }).toEqual([]);

    // The faults really happened: each killed process was restarted by the launcher.
    const restarts = Object.fromEntries(cluster.status().map((p) => [p.instance, p.restarts]));
    for (const killed of ['users-1', 'images-1', 'recommendations-1', 'discovery-1', 'users-2']) expect(restarts[killed], killed).toBeGreaterThan(0);

    // Every acknowledged upload reads back byte for byte.
    const lost: string[] = [];
    for (const upload of acknowledged) {
      const raw = await client.request('GET', `/${upload.imageId}/raw`);
      if (raw.status !== 200 || sha256(raw.bytes) !== upload.sha256) lost.push(`${upload.imageId} (${raw.status})`);
    }
    // No author has more images than uploads acknowledged to them: a retried upload stored once.
    let duplicates = 0;
    for (const account of accounts) {
      let listed = 0;
      let cursor: string | null = null;
      do {
        const page = await client.request('GET', `/images?author=${encodeURIComponent(account.name)}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        listed += (page.body.images as unknown[]).length;
        cursor = page.body.nextCursor as string | null;
      } while (cursor);
      duplicates += Math.max(0, listed - acknowledged.filter((a) => a.author === account.name).length);
    }

    printReport(samples, faultLog, acknowledged.length, lost.length, duplicates);

    // The gateway really served from the cache ring, and one scrape (of its internal metrics port) shows every worker.
    const metricsUrl = cluster.status().find((instance) => instance.instance === 'gateway-1')?.metricsUrl;
    const metrics = await (await fetch(metricsUrl!)).text();
    const cacheHits = [...metrics.matchAll(/^cache_hits_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(cacheHits).toBeGreaterThan(100);
    expect(new Set([...metrics.matchAll(/process="([^"]+)"/g)].map((m) => m[1]))).toEqual(new Set(['gateway-1-w1', 'gateway-1-w2']));
    const failedIdempotent = samples.filter((s) => !s.ok && s.kind !== 'upload');
    expect(lost).toEqual([]);
    expect(duplicates).toBe(0);
    expect(failedIdempotent.map((s) => `${s.kind} ${s.phase} ${s.status} ${s.error ?? ''}`)).toEqual([]);
    expect(samples.filter((s) => s.phase === 'during').length).toBeGreaterThan(100);
  });
});

function printReport(samples: Sample[], faultLog: string[], acknowledgedUploads: number, lost: number, duplicates: number): void {
  const rows: Record<string, string | number>[] = [];
  for (const kind of ['get', 'login', 'like', 'upload'] as Kind[]) {
    const ofKind = samples.filter((s) => s.kind === kind);
    const row: Record<string, string | number> = { kind, requests: ofKind.length, failures: ofKind.filter((s) => !s.ok).length };
    for (const phase of ['before', 'during', 'after'] as Phase[]) {
      const ms = ofKind.filter((s) => s.phase === phase && s.ok).map((s) => s.ms).sort((a, b) => a - b);
      row[`${phase} p50/p99 ms`] = ms.length ? `${quantile(ms, 0.5)}/${quantile(ms, 0.99)}` : '-';
    }
    rows.push(row);
  }
  console.log(`chaos drill, ${loadMs / 1000} s of load, ${concurrency} concurrent clients\n${faultLog.join('\n')}`);
  console.table(rows);
  console.log(`acknowledged uploads: ${acknowledgedUploads}, lost: ${lost}, duplicates: ${duplicates}`);
  const failures = samples.filter((s) => !s.ok).slice(0, 10);
  if (failures.length) console.log('first failures:', failures);
}
