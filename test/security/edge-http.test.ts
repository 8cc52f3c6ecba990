import { connect, type Socket } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../support/api-client.js';
import { edgeSettings } from './cluster-setup.js';
import { gateway, newAccount, processes, securityCluster } from './support.js';

// Issue 12, items 7 and 9 (the HTTP edge and stored images), against the real cluster: slow
// clients are cut off, connections are capped, every answer carries security headers (image
// bytes sandboxed), request ids are bounded, stored originals carry no EXIF/XMP, and image
// bytes are not cacheable for a year.

let client: ApiClient;
let token: string;
const { hostname, port } = new URL(securityCluster().gatewayUrl);

beforeAll(async () => {
  client = gateway();
  token = (await newAccount(client, 'edge')).accessToken;
});
afterAll(async () => {
  await client.close();
});

/** A raw connection that writes `text` and resolves with what came back when the server closed it (or after `waitMs`). */
function rawExchange(text: string, waitMs: number): Promise<{ closed: boolean; answer: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket: Socket = connect(Number(port), hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, answer, ms: performance.now() - started });
    }, waitMs);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, answer, ms: performance.now() - started });
    });
    socket.write(text);
  });
}

describe('slow and heavy clients', () => {
  it('a client that never finishes its headers is cut off', async () => {
    const result = await rawExchange('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', Number(edgeSettings.HEADERS_TIMEOUT_MS) + 8_000);
    expect(result.closed).toBe(true);
    expect(result.ms).toBeLessThan(Number(edgeSettings.HEADERS_TIMEOUT_MS) + 6_000);
  });

  it('a client that never finishes its body is cut off', async () => {
    const result = await rawExchange('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":', Number(edgeSettings.REQUEST_TIMEOUT_MS) + 8_000);
    expect(result.closed).toBe(true);
    expect(result.ms).toBeLessThan(Number(edgeSettings.REQUEST_TIMEOUT_MS) + 6_000);
  });

  it('connections past the cap are refused at once, and the gateway serves again when they go', async () => {
    const before = await processes();
    const sockets = await Promise.all(Array.from({ length: Number(edgeSettings.MAX_CONNECTIONS) + 30 }, () => new Promise<{ socket: Socket; closedEarly: boolean }>((resolve) => {
      const socket = connect(Number(port), hostname);
      const state = { socket, closedEarly: false };
      socket.on('error', () => undefined);
      socket.on('close', () => (state.closedEarly = true));
      socket.on('connect', () => setTimeout(() => resolve(state), 300));
      setTimeout(() => resolve(state), 2_000);
    })));
    const dropped = sockets.filter((entry) => entry.closedEarly).length;
    for (const { socket } of sockets) socket.destroy();
    expect(dropped).toBeGreaterThanOrEqual(20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await client.get('/health')).status).toBe(200);
    expect(await processes()).toEqual(before);
  });
});

describe('headers', () => {
  it('every answer says nosniff and allows no framing; image bytes come with a sandboxing CSP', async () => {
    const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: 'green' } }).png().toBuffer();
    const upload = await client.upload(token, image, { title: 'headers' });
    expect(upload.status).toBe(201);
    const id = upload.body.imageID as string;
    for (const path of ['/health', '/tags', `/${id}/info`, '/not-a-route']) {
      const answer = await client.get(path);
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
      expect(answer.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
    }
    for (const variant of ['raw', 'medium', 'thumb']) {
      const answer = await client.get(`/${id}/${variant}`);
      expect(answer.status).toBe(200);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
      expect(answer.headers['content-security-policy']).toContain('sandbox');
      // A deleted image must not live on in caches for a year.
      expect(answer.headers['cache-control']).not.toContain('immutable');
      expect(Number(/max-age=(\d+)/.exec(answer.headers['cache-control'] ?? '')?.[1])).toBeLessThanOrEqual(300);
    }
  });

  it('the web app keeps its own policy (scripts from itself), not the sandbox', async () => {
    const page = await client.get('/app/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('sandbox');
  });

  it('a client X-Request-Id is kept only when short and plain', async () => {
    expect((await client.get('/health', { headers: { 'x-request-id': 'trace-42' } })).headers['x-request-id']).toBe('trace-42');
    const huge = await client.get('/health', { headers: { 'x-request-id': 'x'.repeat(12 * 1024) } });
    expect(huge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('stored originals', () => {
  it('lose EXIF and XMP (location, real name) and keep their orientation', async () => {
    const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Jane Realname</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>';
    const photo = await sharp({ create: { width: 60, height: 30, channels: 3, background: 'orange' } })
      .withMetadata({ orientation: 6 })
      .withExif({ IFD0: { Artist: 'Jane Realname' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1' } })
      .withXmp(xmp).jpeg().toBuffer();
    const upload = await client.upload(token, photo, { title: 'holiday' });
    expect(upload.status).toBe(201);
    const raw = await client.get(`/${upload.body.imageID as string}/raw`);
    expect(raw.bytes.includes('Jane Realname')).toBe(false);
    const metadata = await sharp(raw.bytes).metadata();
    expect(metadata.xmp).toBeUndefined();
    expect(metadata.orientation).toBe(6);
    const blob = await client.get(`/${upload.body.imageID as string}`);
    expect(Buffer.from(blob.body.imageBlob as string, 'base64').includes('Jane Realname')).toBe(false);
  });
});
