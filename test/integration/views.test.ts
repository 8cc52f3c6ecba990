import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { startStack, type Stack } from '../harness/stack.js';
import { integrationPostgres } from '../harness/context.js';
import { apiClient, type ApiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';

// Views through the gateway: every GET /{imgID} is counted, in batches (one RecordViews call per
// window, not one per GET), and a graceful stop of the gateway sends what it still holds.

const opened: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  for (const item of opened.reverse()) await item.stop().catch(() => undefined);
});

async function stackWithViews(flushIntervalMs: number): Promise<{ stack: Stack; client: ApiClient; views: (imageId: string) => Promise<{ total: number; byViewer: number }> }> {
  const databases: Record<string, string> = {};
  const createDatabase = async (prefix: string) => (databases[prefix] = await integrationPostgres().createDatabase(prefix));
  const stack = await startStack({ createDatabase, env: { gateway: { VIEW_FLUSH_INTERVAL_MS: String(flushIntervalMs) } } });
  const sql = postgres(databases.recommendations!, { max: 1, onnotice: () => undefined });
  const client = apiClient(stack.gatewayUrl);
  opened.push({ stop: () => sql.end() }, stack, { stop: () => client.close() });
  return {
    stack,
    client,
    views: async (imageId) => {
      const [image] = await sql<{ views: string }[]>`select views from images where image_id = ${imageId}`;
      const [viewer] = await sql<{ count: string | null }[]>`select sum(count) as count from views where image_id = ${imageId}`;
      return { total: Number(image?.views ?? 0), byViewer: Number(viewer?.count ?? 0) };
    },
  };
}

describe('views through the gateway', () => {
  it('counts every GET of an image, signed in or not', async () => {
    const { client, views } = await stackWithViews(200);
    const artist = await client.newAccount('viewed');
    const fan = await client.newAccount('fan');
    const imageId = (await client.upload(artist.accessToken, await makeImage('png', 64, 64), { title: 'counted', tags: ['ink'] })).body.imageID as string;
    for (let i = 0; i < 20; i++) expect((await client.request('GET', `/${imageId}`)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await client.request('GET', `/${imageId}`, { token: fan.accessToken })).status).toBe(200);
    await expect.poll(() => views(imageId), { timeout: 10_000, interval: 100 }).toEqual({ total: 25, byViewer: 5 });
  });

  it('sends the views it holds when the gateway stops gracefully', async () => {
    // A window far longer than the test: only the stop can send these views.
    const { stack, client, views } = await stackWithViews(600_000);
    const artist = await client.newAccount('stopping');
    const imageId = (await client.upload(artist.accessToken, await makeImage('png', 64, 64), { title: 'held' })).body.imageID as string;
    for (let i = 0; i < 12; i++) expect((await client.request('GET', `/${imageId}`)).status).toBe(200);
    expect((await views(imageId)).total).toBe(0);
    await stack.gateway.app.close();
    expect((await views(imageId)).total).toBe(12);
  });
});
