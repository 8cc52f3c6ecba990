import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage } from '../fixtures/images.js';
import { startStack, type Stack } from '../harness/stack.js';

// The API the web app needs beyond the original contract, through a gateway in front of real
// users, images and recommendations services on a real PostgreSQL: GET /me, tags edited with
// PATCH, and cookie-authenticated writes refused from other sites.

const quota = 5;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { users: { UPLOAD_QUOTA: String(quota), SCRYPT_LOG2_COST: '10' } } });
});

afterAll(async () => {
  await stack?.stop();
});

interface Session {
  name: string;
  cookie: string;
}

let counter = 0;
async function signUp(): Promise<Session> {
  const name = `painter${process.pid}x${++counter}`;
  const credentials = JSON.stringify({ name, password: 'a long enough password' });
  const headers = { 'content-type': 'application/json' };
  expect((await fetch(`${stack.gatewayUrl}/signup`, { method: 'POST', headers, body: credentials })).status).toBe(201);
  const login = await fetch(`${stack.gatewayUrl}/login`, { method: 'POST', headers, body: credentials });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
  return { name, cookie };
}

/** As the browser sends it: cookies, and Origin for writes. */
async function browserCall(session: Session, method: string, path: string, init: { json?: unknown; body?: FormData; origin?: string } = {}) {
  const headers: Record<string, string> = { cookie: session.cookie };
  if (method !== 'GET') headers.origin = init.origin ?? stack.gatewayUrl;
  let body: RequestInit['body'] = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const response = await fetch(`${stack.gatewayUrl}${path}`, { method, headers, body });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

async function upload(session: Session, fields: Record<string, string>): Promise<string> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('image', new Blob([await makeImage('png', 64, 48)], { type: 'image/png' }), 'picture.png');
  const answer = await browserCall(session, 'POST', '/img', { body: form });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body.imageID as string;
}

describe('GET /me', () => {
  it('names the signed-in person, counts their images and shows the quota', async () => {
    const artist = await signUp();
    const before = await browserCall(artist, 'GET', '/me');
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ name: artist.name, imageCount: 0, quota: { used: 0, limit: quota }, error: '' });
    expect(before.headers.get('cache-control')).toBe('private, no-store');

    const first = await upload(artist, { title: 'one' });
    await upload(artist, { title: 'two' });
    expect((await browserCall(artist, 'GET', '/me')).body).toMatchObject({ imageCount: 2, quota: { used: 2, limit: quota } });

    expect((await browserCall(artist, 'DELETE', `/${first}`)).status).toBe(200);
    expect((await browserCall(artist, 'GET', '/me')).body).toMatchObject({ imageCount: 1, quota: { used: 1, limit: quota } });
  });

  it('is 401 in the documented shape without a session', async () => {
    const response = await fetch(`${stack.gatewayUrl}/me`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: 'failure', code: 'UNAUTHENTICATED' });
  });
});

describe('PATCH /{imgID} with tags', () => {
  it('replaces the tags: the image leaves the old tag page and the tag counts follow', async () => {
    const artist = await signUp();
    const tagA = `ink${process.pid}x${counter}`;
    const tagB = `chalk${process.pid}x${counter}`;
    const imageId = await upload(artist, { title: 'Harbour', tags: `${tagA},sketch` });

    const edit = await browserCall(artist, 'PATCH', `/${imageId}`, { json: { title: 'Harbour at dusk', tags: [tagB, 'Sketch'] } });
    expect(edit.status, JSON.stringify(edit.body)).toBe(200);

    const info = await browserCall(artist, 'GET', `/${imageId}/info`);
    expect(info.body).toMatchObject({ title: 'Harbour at dusk', tags: [tagB, 'sketch'] });
    const onOld = await browserCall(artist, 'GET', `/images?tag=${tagA}`);
    expect(onOld.body.images).toEqual([]);
    const onNew = await browserCall(artist, 'GET', `/images?tag=${tagB}`);
    expect((onNew.body.images as Array<{ imageID: string }>).map((image) => image.imageID)).toEqual([imageId]);

    const tags = (await browserCall(artist, 'GET', `/tags?prefix=${tagB.slice(0, 8)}`)).body.tags as Array<{ tag: string; count: number }>;
    expect(tags).toContainEqual({ tag: tagB, count: 1 });
    const old = (await browserCall(artist, 'GET', `/tags?prefix=${tagA.slice(0, 6)}`)).body.tags as Array<{ tag: string }>;
    expect(old.map((entry) => entry.tag)).not.toContain(tagA);
  });

  it('refuses a bad tag with a message naming the field, and nothing changes', async () => {
    const artist = await signUp();
    const imageId = await upload(artist, { title: 'Kept', tags: 'kept' });
    const edit = await browserCall(artist, 'PATCH', `/${imageId}`, { json: { tags: ['fine', 'not fine!'] } });
    expect(edit.status).toBe(400);
    expect(edit.body).toMatchObject({ message: 'failure', code: 'INVALID_ARGUMENT' });
    expect(String(edit.body.error)).toMatch(/tags/);
    expect((await browserCall(artist, 'GET', `/${imageId}/info`)).body).toMatchObject({ tags: ['kept'] });
  });

  it("refuses to change another person's tags", async () => {
    const author = await signUp();
    const other = await signUp();
    const imageId = await upload(author, { title: 'Mine', tags: 'mine' });
    expect((await browserCall(other, 'PATCH', `/${imageId}`, { json: { tags: ['theirs'] } })).status).toBe(403);
    expect((await browserCall(author, 'GET', `/${imageId}/info`)).body).toMatchObject({ tags: ['mine'] });
  });
});

describe('cookie-authenticated writes from another site', () => {
  it('are refused and change nothing; the same write from the app goes through', async () => {
    const author = await signUp();
    const victim = await signUp();
    const imageId = await upload(author, { title: 'Target' });

    const forged = await browserCall(victim, 'POST', `/${imageId}/like`, { origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ message: 'failure', code: 'FORBIDDEN' });
    const forgedDelete = await browserCall(author, 'DELETE', `/${imageId}`, { origin: 'https://evil.example' });
    expect(forgedDelete.status).toBe(403);
    expect((await browserCall(author, 'GET', `/${imageId}/info`)).body).toMatchObject({ likes: 0 });

    expect((await browserCall(victim, 'GET', `/${imageId}/like`)).body).toEqual({ liked: false, likes: 0, error: '' });
    const liked = await browserCall(victim, 'POST', `/${imageId}/like`);
    expect(liked.body).toMatchObject({ liked: true, likes: 1 });
    expect((await browserCall(victim, 'GET', `/${imageId}/like`)).body).toEqual({ liked: true, likes: 1, error: '' });
    expect((await browserCall(author, 'GET', `/${imageId}/like`)).body).toEqual({ liked: false, likes: 1, error: '' });
    expect((await fetch(`${stack.gatewayUrl}/${imageId}/like`)).status).toBe(401);
  });
});
