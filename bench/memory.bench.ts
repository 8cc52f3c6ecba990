import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { startTestCluster, type TestCluster } from '../test/harness/cluster.js';
import { apiClient, type Account } from '../test/support/api-client.js';
import { makeImage } from '../test/fixtures/images.js';
import { numberArg } from './interleaved.js';

// Peak resident memory of every Easel process (discovery, users, images, recommendations, the
// gateway's primary and each worker) under the chaos drill's mixed load (GET /{imgID}, likes,
// logins, uploads; 6 concurrent clients; reads spread over every uploaded image, so the
// gateway workers' hot tiers fill), through the launcher with its layout (so with the
// --max-old-space-size it sets). Peak = the kernel's high-water mark (VmHWM) of each process;
// the heap / external split comes from each process's own /metrics at the end.
//
//   npm run build && npm run bench:memory -- [--duration=30000 --concurrency=6]
//
// Target (issue 15): every process under 120 MB.

const settings = {
  durationMs: numberArg('duration', 30_000),
  concurrency: numberArg('concurrency', 6),
  limitMb: numberArg('limit-mb', 120),
};
const password = 'memory bench password';
const easelKinds = new Set(['discovery', 'users', 'images', 'recommendations', 'gateway']);

interface Sampled { instance: string; pid: number; peakKb: number; rssKb: number; peakAnonKb: number }

/** Every process of the process group led by `leader` (the gateway's workers are its children). */
function groupPids(leader: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === leader) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids.sort((a, b) => a - b);
}

function memoryOf(pid: number): { peakKb: number; rssKb: number; anonKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    // RssAnon: the process's own memory; the rest of RSS is file pages (the node binary's code,
    // about 50 MB) that every Easel process shares with the others.
    return { peakKb: field('VmHWM'), rssKb: field('VmRSS'), anonKb: field('RssAnon') };
  } catch {
    return undefined;
  }
}

function sample(cluster: TestCluster, into: Map<number, Sampled>): void {
  for (const process of cluster.status()) {
    if (!easelKinds.has(process.kind) || process.pid === undefined) continue;
    const pids = groupPids(process.pid);
    for (const pid of pids) {
      const memory = memoryOf(pid);
      if (!memory) continue;
      const name = pid === process.pid ? process.instance : `${process.instance} worker ${pids.indexOf(pid)}`;
      const known = into.get(pid);
      into.set(pid, { instance: name, pid, peakKb: Math.max(known?.peakKb ?? 0, memory.peakKb), rssKb: memory.rssKb, peakAnonKb: Math.max(known?.peakAnonKb ?? 0, memory.anonKb) });
    }
  }
}

async function main(): Promise<void> {
  let cluster: TestCluster | undefined;
  try {
    cluster = await startTestCluster({ layout: { logLevel: 'warn', gateway: { workers: 2 }, serviceEnv: { UPLOADS_PER_USER: '100000', UPLOAD_QUOTA: '100000' } } });
    const client = apiClient(cluster.gatewayUrl, { connections: settings.concurrency * 2, timeoutMs: 20_000 });
    // The services register with discovery just after they are ready: give them a moment.
    const newAccount = async (label: string): Promise<Account> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await client.newAccount(`memory_${label}`, password);
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    };
    const accounts: Account[] = await Promise.all(['a', 'b', 'c', 'd'].map(newAccount));
    const imageIds: string[] = [];
    for (const account of accounts) {
      for (let attempt = 0; ; attempt++) {
        const upload = await client.upload(account.accessToken, await makeImage('png', 400, 300), { tags: ['seed'] });
        if (upload.status === 201) {
          imageIds.push(upload.body.imageID as string);
          break;
        }
        if (attempt >= 20) throw new Error(`seed upload answered ${upload.status}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    const samples = new Map<number, Sampled>();
    const sampler = setInterval(() => sample(cluster!, samples), 250);
    const kinds = ['get', 'get', 'get', 'get', 'get', 'like', 'like', 'login', 'upload', 'get'] as const;
    const counts: Record<string, { ok: number; failed: number }> = {};
    const started = Date.now();
    let uploads = 0;
    await Promise.all(Array.from({ length: settings.concurrency }, async (_, index) => {
      let n = index;
      while (Date.now() - started < settings.durationMs) {
        const kind = kinds[n++ % kinds.length]!;
        const account = accounts[n % accounts.length]!;
        // Reads go to every image uploaded so far, not only the seed ones, so each gateway
        // worker's hot tier fills up to its bound as it would in use.
        const imageId = imageIds[(n * 7919) % imageIds.length]!;
        let status = 0;
        try {
          if (kind === 'get') status = (await client.request('GET', `/${imageId}`)).status;
          else if (kind === 'like') status = (await client.request('POST', `/${imageId}/like`, { token: account.accessToken })).status;
          else if (kind === 'login') status = (await client.request('POST', '/login', { json: { name: account.name, password } })).status;
          else {
            const image = await makeImage('png', 200 + (uploads++ % 200), 150);
            const upload = await client.request('POST', '/img', { token: account.accessToken, json: { imageBlob: image.toString('base64'), tags: ['memory'] }, headers: { 'idempotency-key': randomUUID() } });
            status = upload.status;
            if (status === 201) imageIds.push((upload.body as { imageID: string }).imageID);
          }
        } catch {
          status = 0;
        }
        const count = (counts[kind] ??= { ok: 0, failed: 0 });
        if (status >= 200 && status < 300) count.ok++;
        else count.failed++;
      }
    }));
    clearInterval(sampler);
    sample(cluster, samples);

    // What holds the memory, as each process reports it.
    const breakdown = new Map<string, string>();
    for (const process of cluster.status()) {
      if (!easelKinds.has(process.kind) || process.kind === 'gateway') continue;
      try {
        const text = await (await fetch(process.metricsUrl ?? `${process.url}/metrics`)).text();
        const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 1024 / 1024;
        breakdown.set(process.instance, `heap ${metric('nodejs_heap_size_used_bytes').toFixed(0)} MB used of ${metric('nodejs_heap_size_total_bytes').toFixed(0)}, external ${metric('nodejs_external_memory_bytes').toFixed(0)} MB`);
      } catch {
        // metrics may live on another port; the peak RSS is what counts
      }
    }
    // How full the workers' hot tiers got (the gateway's metrics sum its workers).
    let hotTier = 'hot tiers: not reported';
    const gateway = cluster.status().find((process) => process.kind === 'gateway');
    try {
      const text = await (await fetch(gateway?.metricsUrl ?? `${gateway?.url}/metrics`)).text();
      const bytes = /^image_hot_tier_bytes(?:\{[^}]*\})? ([0-9.e+]+)/m.exec(text)?.[1];
      if (bytes !== undefined) hotTier = `hot tiers of the gateway's workers hold ${(Number(bytes) / 1024 / 1024).toFixed(1)} MB in all`;
    } catch {
      // the peak RSS is what counts
    }
    await client.close();

    console.log(hotTier);
    console.log(`mixed load for ${settings.durationMs / 1000} s, ${settings.concurrency} clients:`, Object.entries(counts).map(([kind, c]) => `${kind} ${c.ok} ok / ${c.failed} failed`).join(', '));
    const rows = [...samples.values()].sort((a, b) => a.instance.localeCompare(b.instance));
    console.table(rows.map((row) => ({
      process: row.instance,
      pid: row.pid,
      'peak RSS MB': (row.peakKb / 1024).toFixed(1),
      'RSS at end MB': (row.rssKb / 1024).toFixed(1),
      'peak own (anon) MB': (row.peakAnonKb / 1024).toFixed(1),
      [`under ${settings.limitMb} MB`]: row.peakKb / 1024 < settings.limitMb,
      'at end (own metrics)': breakdown.get(row.instance) ?? '',
    })));
    const restarted = cluster.status().filter((p) => p.restarts > 0).map((p) => `${p.instance} (${p.restarts})`);
    console.log(restarted.length === 0 ? 'no process restarted' : `restarted during the run: ${restarted.join(', ')}`);
    const over = rows.filter((row) => row.peakKb / 1024 >= settings.limitMb);
    console.log(over.length === 0 ? `every Easel process stayed under ${settings.limitMb} MB` : `over ${settings.limitMb} MB: ${over.map((row) => row.instance).join(', ')}`);
  } finally {
    await cluster?.stop();
  }
}

await main();
