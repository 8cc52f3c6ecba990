import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness/stack.js';
import { makeImage } from '../fixtures/images.js';

// Tags, likes and recommendations through the gateway, with every service real.

let stack: Stack;
let artist: string;
let fan: string;
let imageSize = 40;

beforeAll(async () => {
  stack = await startStack();
  artist = await signUpAndLogIn('reco-artist');
  fan = await signUpAndLogIn('reco-fan');
});

afterAll(async () => {
  await stack?.stop();
});

interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

async function api(method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, stack.gatewayUrl), {
    method,
    headers,
    ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function signUpAndLogIn(name: string): Promise<string> {
  const password = 'a long enough password 123';
  const signup = await api('POST', '/signup', { json: { name, password } });
  expect(signup.status).toBe(201);
  const login = await api('POST', '/login', { json: { name, password } });
  expect(login.status).toBe(200);
  return login.body.accessToken as string;
}

async function upload(token: string, tags: string[]): Promise<string> {
  // A different size each time: every upload is a distinct image.
  imageSize += 1;
  const bytes = await makeImage('png', imageSize, 32);
  const response = await api('POST', '/img', { token, json: { imageBlob: bytes.toString('base64'), title: tags.join(' '), tags } });
  expect(response.status).toBe(201);
  return response.body.imageID as string;
}

type ListedImage = { imageID: string; author: string; title: string; tags: string[]; likes: number; created: string };

async function recommendations(token?: string, limit = 10): Promise<ListedImage[]> {
  const response = await api('GET', `/recommendations?limit=${limit}`, token ? { token } : {});
  expect(response.status).toBe(200);
  expect(response.body.error).toBe('');
  return response.body.images as ListedImage[];
}

async function tags(query = ''): Promise<Array<{ tag: string; count: number }>> {
  const response = await api('GET', `/tags${query}`);
  expect(response.status).toBe(200);
  expect(response.body.error).toBe('');
  return response.body.tags as Array<{ tag: string; count: number }>;
}

describe('likes through the gateway', () => {
  it('likes once however often it is sent, and unliking what was not liked is a harmless answer', async () => {
    const image = await upload(artist, ['likeable']);
    expect(await api('POST', `/${image}/like`, { token: fan })).toEqual({ status: 200, body: { message: 'success', liked: true, likes: 1, error: '' } });
    expect(await api('POST', `/${image}/like`, { token: fan })).toEqual({ status: 200, body: { message: 'success', liked: true, likes: 1, error: '' } });
    expect(await api('DELETE', `/${image}/like`, { token: artist })).toEqual({ status: 200, body: { message: 'success', liked: false, likes: 1, error: '' } });
    expect(await api('DELETE', `/${image}/like`, { token: fan })).toEqual({ status: 200, body: { message: 'success', liked: false, likes: 0, error: '' } });
  });

  it('answers 404 for an unknown image and 401 without a token', async () => {
    const unknown = await api('POST', '/no-such-image-id/like', { token: fan });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ message: 'failure', code: 'NOT_FOUND' });
    const image = await upload(artist, ['likeable']);
    const anonymous = await api('POST', `/${image}/like`);
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
    await api('POST', `/${liked}/like`, { token: fan });
    await api('POST', `/${watercolors[1]!}/like`, { token: artist });

    const images = await recommendations(fan, 5);
    expect(images.length).toBe(5);
    const ids = images.map((image) => image.imageID);
    expect(ids).not.toContain(own);
    expect(ids).not.toContain(liked);
    expect(images[0]).toMatchObject({ author: 'reco-artist', title: 'watercolor', tags: ['watercolor'], likes: 0 });
    expect(typeof images[0]!.created).toBe('string');
    expect(images.slice(0, 3).every((image) => image.tags.includes('watercolor'))).toBe(true);
    // The watercolor the artist liked is the most popular image the fan has not liked: it is listed, with its count.
    expect(images.find((image) => image.imageID === watercolors[1])?.likes).toBe(1);
  });

  it('gives an anonymous visitor popular and newest images', async () => {
    const popular = await upload(artist, ['crowd-pleaser']);
    await api('POST', `/${popular}/like`, { token: fan });
    await api('POST', `/${popular}/like`, { token: artist });
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
    expect((await api('DELETE', `/${doomed}`, { token: artist })).status).toBe(200);
    expect(await tags('?prefix=ephem')).toEqual([]);
    expect(await tags('?prefix=waterc')).toEqual([{ tag: 'watercolor', count: 7 }]);
    expect((await recommendations(fan, 100)).map((image) => image.imageID)).not.toContain(doomed);
  });

  it('refuses a bad limit with 400', async () => {
    expect((await api('GET', '/tags?limit=0')).status).toBe(400);
    expect((await api('GET', '/recommendations?limit=abc')).status).toBe(400);
  });
});

describe('views through the gateway', () => {
  it('records a view on GET /{imgID}, which steers the viewer toward that tag', async () => {
    const viewer = await signUpAndLogIn('reco-viewer');
    const tag = `viewed${Date.now().toString(36)}`;
    const seen = await upload(artist, [tag]);
    const unseen = await upload(artist, [tag]);
    await upload(artist, ['elsewhere']); // the newest image, first for a viewer with no interests
    const get = await api('GET', `/${seen}`, { token: viewer });
    expect(get.status).toBe(200);
    // The view is recorded after the answer; the viewer's interests then lead with the tag.
    await expect.poll(async () => (await recommendations(viewer, 5))[0]?.imageID, { timeout: 5_000, interval: 100 }).toBe(unseen);
  });
});
