import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';

// Tags, likes and recommendations through the gateway, with every service real.

let stack: Stack;
let client: ApiClient;
let artist: Account;
let fan: Account;
let imageSize = 40;

beforeAll(async () => {
  stack = await startStack();
  client = apiClient(stack.gatewayUrl);
  artist = await client.newAccount('reco-artist');
  fan = await client.newAccount('reco-fan');
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

async function upload(account: Account, tags: string[]): Promise<string> {
  // A different size each time: every upload is a distinct image.
  imageSize += 1;
  const bytes = await makeImage('png', imageSize, 32);
  const response = await client.upload(account.accessToken, bytes, { title: tags.join(' '), tags });
  expect(response.status).toBe(201);
  return response.body.imageID as string;
}

type ListedImage = { imageID: string; author: string; title: string; tags: string[]; likes: number; created: string };

async function recommendations(viewer?: Account, limit = 10): Promise<ListedImage[]> {
  const response = await client.request('GET', `/recommendations?limit=${limit}`, viewer ? { token: viewer.accessToken } : {});
  expect(response.status).toBe(200);
  expect(response.body.error).toBe('');
  return response.body.images as ListedImage[];
}

async function tags(query = ''): Promise<Array<{ tag: string; count: number }>> {
  const response = await client.request('GET', `/tags${query}`);
  expect(response.status).toBe(200);
  expect(response.body.error).toBe('');
  return response.body.tags as Array<{ tag: string; count: number }>;
}

describe('likes through the gateway', () => {
  it('likes once however often it is sent, and unliking what was not liked is a harmless answer', async () => {
    const image = await upload(artist, ['likeable']);
    expect(await client.answer('POST', `/${image}/like`, { token: fan.accessToken })).toEqual({ status: 200, body: { message: 'success', liked: true, likes: 1, error: '' } });
    expect(await client.answer('POST', `/${image}/like`, { token: fan.accessToken })).toEqual({ status: 200, body: { message: 'success', liked: true, likes: 1, error: '' } });
    expect(await client.answer('DELETE', `/${image}/like`, { token: artist.accessToken })).toEqual({ status: 200, body: { message: 'success', liked: false, likes: 1, error: '' } });
    expect(await client.answer('DELETE', `/${image}/like`, { token: fan.accessToken })).toEqual({ status: 200, body: { message: 'success', liked: false, likes: 0, error: '' } });
  });

  it('answers 404 for an unknown image and 401 without a token', async () => {
    const unknown = await client.request('POST', '/no-such-image-id/like', { token: fan.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ message: 'failure', code: 'NOT_FOUND' });
    const image = await upload(artist, ['likeable']);
    const anonymous = await client.request('POST', `/${image}/like`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ message: 'failure', code: 'UNAUTHENTICATED' });
  });
});

describe('recommendations and tags through the gateway', () => {
  it('shows a fan unseen watercolors first with their like counts, never their own or liked ones', async () => {
    const watercolors: string[] = [];
    for (let i = 0; i < 6; i++) watercolors.push(await upload(artist, ['watercolor']));
    for (let i = 0; i < 4; i++) await upload(artist, ['charcoal']);
    const own = await upload(fan, ['watercolor']);
    const liked = watercolors[0]!;
    await client.request('POST', `/${liked}/like`, { token: fan.accessToken });
    await client.request('POST', `/${watercolors[1]!}/like`, { token: artist.accessToken });

    const images = await recommendations(fan, 5);
    expect(images.length).toBe(5);
    const ids = images.map((image) => image.imageID);
    expect(ids).not.toContain(own);
    expect(ids).not.toContain(liked);
    expect(images[0]).toMatchObject({ author: artist.name, title: 'watercolor', tags: ['watercolor'], likes: 0 });
    expect(typeof images[0]!.created).toBe('string');
    expect(images.slice(0, 3).every((image) => image.tags.includes('watercolor'))).toBe(true);
    // The watercolor the artist liked is the most popular image the fan has not liked: it is listed, with its count.
    expect(images.find((image) => image.imageID === watercolors[1])?.likes).toBe(1);
  });

  it('gives an anonymous visitor popular and newest images', async () => {
    const popular = await upload(artist, ['crowd-pleaser']);
    await client.request('POST', `/${popular}/like`, { token: fan.accessToken });
    await client.request('POST', `/${popular}/like`, { token: artist.accessToken });
    const newest = await upload(artist, ['fresh']);
    const ids = (await recommendations(undefined, 4)).map((image) => image.imageID);
    expect(ids).toContain(popular);
    expect(ids).toContain(newest);
  });

  it('lists tags most used first with prefix search, and forgets a deleted image', async () => {
    const listed = await tags();
    expect(listed.length).toBeGreaterThan(0);
    const counts = listed.map((t) => t.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(await tags('?prefix=waterc')).toEqual([{ tag: 'watercolor', count: 7 }]);

    const doomed = await upload(artist, ['ephemeral', 'watercolor']);
    expect(await tags('?prefix=ephem')).toEqual([{ tag: 'ephemeral', count: 1 }]);
    expect((await recommendations(fan, 100)).map((image) => image.imageID)).toContain(doomed);
    expect((await client.request('DELETE', `/${doomed}`, { token: artist.accessToken })).status).toBe(200);
    expect(await tags('?prefix=ephem')).toEqual([]);
    expect(await tags('?prefix=waterc')).toEqual([{ tag: 'watercolor', count: 7 }]);
    expect((await recommendations(fan, 100)).map((image) => image.imageID)).not.toContain(doomed);
  });

  it('refuses a bad limit with 400', async () => {
    expect((await client.request('GET', '/tags?limit=0')).status).toBe(400);
    expect((await client.request('GET', '/recommendations?limit=abc')).status).toBe(400);
  });
});

describe('views through the gateway', () => {
  it('records a view on GET /{imgID}, which steers the viewer toward that tag', async () => {
    const viewer = await client.newAccount('reco-viewer');
    const tag = `viewed${Date.now().toString(36)}`;
    const seen = await upload(artist, [tag]);
    const unseen = await upload(artist, [tag]);
    await upload(artist, ['elsewhere']); // the newest image, first for a viewer with no interests
    const get = await client.request('GET', `/${seen}`, { token: viewer.accessToken });
    expect(get.status).toBe(200);
    // The view is recorded after the answer; the viewer's interests then lead with the tag.
    await expect.poll(async () => (await recommendations(viewer, 5))[0]?.imageID, { timeout: 5_000, interval: 100 }).toBe(unseen);
  });
});
