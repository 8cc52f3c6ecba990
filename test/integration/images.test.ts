import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startStack, type Stack } from '../harness/stack.js';
import { apiClient, type Account, type ApiClient } from '../support/api-client.js';
import { bombPng, makeImage, truncatedBombPng, type FixtureFormat } from '../fixtures/images.js';
import { createRpcClient, type RpcTransport } from '../../src/platform/rpc/client.js';
import { usersContract } from '../../src/contracts/users.js';
import { trustedTestTransport } from '../support/credentials.js';

// The images endpoints through the gateway, with real users, images and recommendations
// services on a real PostgreSQL and the gateway's state (image cache, rate limits) in the real
// Redis ring.

const maxBytes = 600_000;
const quota = 6;

let stack: Stack;
let api: ApiClient;
let usersTransport: RpcTransport;
let usersRpc: ReturnType<typeof createRpcClient<typeof usersContract.methods>>;

async function usedQuota(account: Account): Promise<number> {
  return (await usersRpc.GetQuota({ userId: account.userId })).used;
}

beforeAll(async () => {
  stack = await startStack({
    env: {
      images: { MAX_IMAGE_BYTES: String(maxBytes) },
      users: { UPLOAD_QUOTA: String(quota), SCRYPT_LOG2_COST: '10' },
    },
  });
  api = apiClient(stack.gatewayUrl);
  usersTransport = trustedTestTransport(stack.users.url, { secret: stack.clusterSecret });
  usersRpc = createRpcClient(usersContract, usersTransport);
});

afterAll(async () => {
  await api?.close();
  await usersTransport?.close?.();
  await stack?.stop();
});

describe('images through the gateway', () => {
  it('refuses a decompression bomb without the process memory growing past 200 MB', async () => {
    const author = await api.newAccount('artist');
    const bomb = bombPng();
    expect(bomb.length).toBeLessThan(maxBytes);
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    try {
      for (const file of [bomb, truncatedBombPng()]) {
        const answer = await api.upload(author.accessToken, file);
        expect(answer.status).toBe(413);
        expect(answer.body).toMatchObject({ message: 'failure', imageID: '', code: 'PAYLOAD_TOO_LARGE' });
      }
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(`bomb: rss before ${Math.round(before / 1048576)} MB, peak ${Math.round(peak / 1048576)} MB`);
    // Every service runs in this process, so this is the images service's memory too. First in
    // the file, so the baseline is the runner plus the whole stack (every service, the API
    // documents, the transaction coordinators), before other tests allocate: what the bomb must
    // not move is the growth over that baseline.
    expect(peak - before).toBeLessThan(30 * 1024 * 1024);
    expect(peak).toBeLessThan(320 * 1024 * 1024);
  });

  const formats: Array<[FixtureFormat, string]> = [['png', 'image/png'], ['jpeg', 'image/jpeg'], ['webp', 'image/webp']];

  it('keeps the gateway\'s image cache in the Redis ring: the answer is stored there under the image\'s generation', async () => {
    const author = await api.newAccount('artist');
    const imageId = (await api.upload(author.accessToken, await makeImage('png', 60, 40))).body.imageID as string;
    const first = await api.get(`/${imageId}`);
    expect(first.status).toBe(200);
    // Where another worker or gateway finds it (this one answers a repeat from its memory).
    const generation = (await stack.sharedState.get(`img:${imageId}:gen`))?.toString();
    expect(generation).toBeTruthy();
    const stored = await stack.sharedState.get(`img:${imageId}:${generation}:answer`);
    expect(JSON.parse(stored!.toString())).toEqual(first.body);
    expect((await api.get(`/${imageId}`)).body).toEqual(first.body);
  });

  it.each(formats)('a real %s round-trips byte for byte through JSON and multipart uploads, GET and /raw', async (format, contentType) => {
    const author = await api.newAccount('artist');
    const original = await makeImage(format, 500, 300);

    const viaJson = await api.upload(author.accessToken, original, { title: 'Mona', description: 'a reimagining', tags: ['Oil', 'classic'] });
    expect(viaJson.status).toBe(201);
    expect(viaJson.body).toMatchObject({ message: 'success', error: '' });
    const viaForm = await api.uploadMultipart(author.accessToken, original, contentType, { title: 'Form', tags: 'a,b' });
    expect(viaForm.status).toBe(201);
    expect(viaForm.body.imageID).not.toBe(viaJson.body.imageID);

    for (const imageId of [viaJson.body.imageID, viaForm.body.imageID] as string[]) {
      const got = await api.request('GET', `/${imageId}`);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.body.imageBlob as string, 'base64').equals(original)).toBe(true);
      expect(got.body.author).toBe(author.name);
      expect(got.body.error).toBe('');

      const raw = await api.request('GET', `/${imageId}/raw`);
      expect(raw.status).toBe(200);
      expect(raw.headers['content-type']).toBe(contentType);
      expect(raw.bytes.equals(original)).toBe(true);
    }

    const info = await api.request('GET', `/${viaJson.body.imageID}/info`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      imageID: viaJson.body.imageID, author: author.name, title: 'Mona', description: 'a reimagining',
      size: original.length, type: contentType, width: 500, height: 300, tags: ['oil', 'classic'], likes: 0,
    });
    expect(Date.parse(info.body.created as string)).not.toBeNaN();
    const formInfo = await api.request('GET', `/${viaForm.body.imageID}/info`);
    expect(formInfo.body).toMatchObject({ title: 'Form', description: '', tags: ['a', 'b'] });
  });

  it('takes the token from a form field or the cookie too, and accepts GIF', async () => {
    const author = await api.newAccount('artist');
    const gif = await makeImage('gif', 90, 60);
    const form = new FormData();
    form.append('accessToken', author.accessToken);
    form.append('tags', 'pixel');
    form.append('tags', 'Retro');
    form.append('image', new Blob([gif], { type: 'image/gif' }), 'anim.gif');
    const viaField = await api.request('POST', '/img', { body: form });
    expect(viaField.status).toBe(201);
    const viaCookie = await api.request('POST', '/img', { json: { imageBlob: gif.toString('base64') }, headers: { cookie: `accessToken=${author.accessToken}` } });
    expect(viaCookie.status).toBe(201);
    const info = await api.request('GET', `/${viaField.body.imageID}/info`);
    expect(info.body).toMatchObject({ type: 'image/gif', width: 90, height: 60, tags: ['pixel', 'retro'], author: author.name });
    const raw = await api.request('GET', `/${viaCookie.body.imageID}/raw`);
    expect(raw.bytes.equals(gif)).toBe(true);
  });

  it('an unknown id gets the original empty blob and an error, with 404', async () => {
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id', '..%2F..%2Fetc']) {
      const got = await api.request('GET', `/${id}`);
      expect(got.status).toBe(404);
      expect(got.body).toEqual({ imageBlob: '', author: '', title: '', description: '', error: 'image not found', code: 'NOT_FOUND' });
    }
    expect((await api.request('GET', '/AAAAAAAAAAAAAAAAAAAAAA/raw')).status).toBe(404);
    expect((await api.request('GET', '/AAAAAAAAAAAAAAAAAAAAAA/info')).status).toBe(404);
  });

  it('refuses non-images (415), too many bytes (413), corrupt base64 (400) and no token (401), in the original shape', async () => {
    const author = await api.newAccount('artist');
    const text = await api.upload(author.accessToken, Buffer.from('%PDF-1.7 definitely not an image'));
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ message: 'failure', imageID: '', code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(text.body.error).toEqual(expect.any(String));

    const big = await makeImage('png', 2000, 1500);
    expect(big.length).toBeGreaterThan(maxBytes);
    const bigJson = await api.upload(author.accessToken, big);
    expect(bigJson.status).toBe(413);
    expect(bigJson.body).toMatchObject({ message: 'failure', imageID: '', code: 'PAYLOAD_TOO_LARGE' });
    const bigForm = await api.uploadMultipart(author.accessToken, big, 'image/png');
    expect(bigForm.status).toBe(413);
    expect(bigForm.body).toMatchObject({ message: 'failure', imageID: '', code: 'PAYLOAD_TOO_LARGE' });

    const png = (await makeImage('png', 50, 50)).toString('base64');
    for (const corrupt of [png.slice(0, -1), `${png.slice(0, 20)}!${png.slice(21)}`, `${png.slice(0, 20)}=${png.slice(21)}`, `${png}\n`]) {
      const answer = await api.request('POST', '/img', { token: author.accessToken, json: { imageBlob: corrupt } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ message: 'failure', imageID: '', code: 'INVALID_ARGUMENT' });
    }

    const longDescription = await api.request('POST', '/img', { token: author.accessToken, json: { imageBlob: png, description: 'd'.repeat(20_000) } });
    expect(longDescription.status).toBe(400);
    expect(longDescription.body).toMatchObject({ message: 'failure', imageID: '', code: 'INVALID_ARGUMENT' });

    const truncatedForm = await api.request('POST', '/img', { token: author.accessToken, body: '--xx\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc', headers: { 'content-type': 'multipart/form-data; boundary=xx' } });
    expect(truncatedForm.status).toBe(400);
    expect(truncatedForm.body).toMatchObject({ message: 'failure', imageID: '', code: 'INVALID_ARGUMENT' });

    const anonymous = await api.request('POST', '/img', { json: { imageBlob: png } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ message: 'failure', imageID: '', code: 'UNAUTHENTICATED' });
    const viaBodyToken = await api.request('POST', '/img', { json: { imageBlob: png, accessToken: author.accessToken } });
    expect(viaBodyToken.status).toBe(201);
    expect(await usedQuota(author)).toBe(1); // the refused uploads took nothing
  });

  it('thumbnails and medium sizes are real images within their size, cached by ETag', async () => {
    const author = await api.newAccount('artist');
    const upload = await api.upload(author.accessToken, await makeImage('jpeg', 1600, 900));
    const imageId = upload.body.imageID as string;
    for (const [path, side] of [['thumb', 320], ['medium', 1280]] as const) {
      const response = await api.request('GET', `/${imageId}/${path}`);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('image/webp');
      expect(response.headers['cache-control']).toBe('public, max-age=300, must-revalidate');
      const etag = response.headers['etag']!;
      expect(etag).toMatch(/^".+"$/);
      const meta = await sharp(response.bytes).metadata();
      expect(meta.format).toBe('webp');
      expect(Math.max(meta.width!, meta.height!)).toBe(side);
      expect(meta.width! / meta.height!).toBeCloseTo(1600 / 900, 1);

      const again = await api.request('GET', `/${imageId}/${path}`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers['etag']).toBe(etag);
      expect(again.bytes.length).toBe(0);
      expect((await api.request('GET', `/${imageId}/${path}`, { headers: { 'if-none-match': '"something-else"' } })).status).toBe(200);
    }
  });

  it("only the author may modify or delete; another user's attempt gets 403 and changes nothing", async () => {
    const author = await api.newAccount('artist');
    const other = await api.newAccount('artist');
    const upload = await api.upload(author.accessToken, await makeImage('png', 80, 60), { title: 'Before', description: 'original words' });
    const imageId = upload.body.imageID as string;

    const patchByOther = await api.request('PATCH', `/${imageId}`, { token: other.accessToken, json: { title: 'Hijacked' } });
    expect(patchByOther.status).toBe(403);
    expect(patchByOther.body).toMatchObject({ message: 'failure', code: 'FORBIDDEN' });
    const deleteByOther = await api.request('DELETE', `/${imageId}`, { token: other.accessToken });
    expect(deleteByOther.status).toBe(403);
    const unchanged = await api.request('GET', `/${imageId}`);
    expect(unchanged.body).toMatchObject({ title: 'Before', description: 'original words', error: '' });

    const empty = await api.request('PATCH', `/${imageId}`, { token: author.accessToken, json: {} });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({ message: 'failure', error: 'at least one of title and description is required', code: 'INVALID_ARGUMENT' });
    expect((await api.request('PATCH', `/${imageId}`, { json: { title: 'x' } })).status).toBe(401);

    const patched = await api.request('PATCH', `/${imageId}`, { token: author.accessToken, json: { description: 'new words' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ message: 'success', error: '' });
    expect((await api.request('GET', `/${imageId}`)).body).toMatchObject({ title: 'Before', description: 'new words' });

    expect(await usedQuota(author)).toBe(1);
    const deleted = await api.request('DELETE', `/${imageId}`, { token: author.accessToken });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ message: 'success', error: '' });
    expect((await api.request('GET', `/${imageId}`)).status).toBe(404);
    expect(await usedQuota(author)).toBe(0); // deleting gives the quota unit back
  });

  it('a retried upload with the same Idempotency-Key is stored once', async () => {
    const author = await api.newAccount('artist');
    const image = await makeImage('webp', 120, 90);
    const key = `retry-${Date.now()}`;
    const answers = await Promise.all([1, 2, 3].map(() => api.upload(author.accessToken, image, { title: 'once' }, { 'idempotency-key': key })));
    const later = await api.upload(author.accessToken, image, { title: 'once' }, { 'idempotency-key': key });
    const ids = new Set([...answers, later].map((answer) => answer.body.imageID));
    expect([...answers, later].map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
    expect(ids.size).toBe(1);
    const listed = await api.request('GET', `/images?author=${author.name}`);
    expect((listed.body.images as unknown[]).length).toBe(1);
    expect(await usedQuota(author)).toBe(1);
  });

  it('listing filters by author and tag and paginates with an opaque cursor, newest first', async () => {
    const author = await api.newAccount('artist');
    const uploaded: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await api.upload(author.accessToken, await makeImage('png', 40 + i, 40), { title: `n${i}`, tags: i % 2 === 0 ? 'even, Listing' : 'odd,listing' });
      uploaded.push(answer.body.imageID as string);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/images?author=${author.name}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api.request('GET', query);
      expect(page.status).toBe(200);
      const images = page.body.images as Array<{ imageID: string; likes: number }>;
      expect(images.length).toBeLessThanOrEqual(2);
      seen.push(...images.map((image) => image.imageID));
      cursor = page.body.nextCursor as string | null;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...uploaded].reverse());

    const even = await api.request('GET', `/images?author=${author.name}&tag=EVEN`);
    expect((even.body.images as Array<{ title: string }>).map((image) => image.title)).toEqual(['n4', 'n2', 'n0']);
    expect((await api.request('GET', '/images?cursor=bogus')).status).toBe(400);
    expect((await api.request('GET', '/images?limit=1000')).status).toBe(400);
  });

  it('publishes its limits', async () => {
    const limits = await api.request('GET', '/limits');
    expect(limits.status).toBe(200);
    expect(limits.body).toMatchObject({ maxBytes, maxPixels: 40_000_000, types: ['image/jpeg', 'image/png', 'image/webp', 'image/gif'], maxTags: 10, maxTitle: 100, maxDescription: 1000 });
  });

  it('an exhausted quota gets a clear error, and deleting frees a unit', async () => {
    const author = await api.newAccount('artist');
    const image = await makeImage('png', 30, 30);
    const ids: string[] = [];
    for (let i = 0; i < quota; i++) {
      const answer = await api.upload(author.accessToken, image);
      expect(answer.status).toBe(201);
      ids.push(answer.body.imageID as string);
    }
    const refused = await api.upload(author.accessToken, image);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ message: 'failure', imageID: '', error: `upload quota exhausted (${quota} images)`, code: 'QUOTA_EXCEEDED' });
    expect((await api.request('DELETE', `/${ids[0]}`, { token: author.accessToken })).status).toBe(200);
    expect((await api.upload(author.accessToken, image)).status).toBe(201);
  });

  it('too many uploads in a minute get 429 with Retry-After, in the upload shape', async () => {
    const author = await api.newAccount('artist');
    const imageBlob = (await makeImage('png', 20, 20)).toString('base64');
    const statuses = new Set<number>();
    // The gateway allows 30 uploads a minute per user (past the quota they are refused with 409).
    for (let i = 0; i < 30; i++) statuses.add((await api.request('POST', '/img', { token: author.accessToken, json: { imageBlob } })).status);
    expect([...statuses].sort()).toEqual([201, 409]);
    const response = await api.request('POST', '/img', { token: author.accessToken, json: { imageBlob } });
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('60');
    expect(response.body).toMatchObject({ message: 'failure', imageID: '', code: 'RATE_LIMITED' });
    expect(await usedQuota(author)).toBe(quota);
  });

  // Last: it stops the recommendations service.
  it('a failed upload gives the quota unit back and stores nothing', async () => {
    const author = await api.newAccount('artist');
    await stack.recommendations.app.close();
    const answer = await api.upload(author.accessToken, await makeImage('png', 64, 64), { title: 'doomed' });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ message: 'failure', imageID: '', code: 'UNAVAILABLE' });
    expect(await usedQuota(author)).toBe(0);
    const listed = await api.request('GET', `/images?author=${author.name}`);
    expect(listed.body.images).toEqual([]);
  });
});
