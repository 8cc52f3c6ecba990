import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startStack, type Stack } from '../../harness/stack.js';
import { apiClient, type ApiClient } from '../../support/api-client.js';
import { startDiscoveredGateway, type DiscoveredGateway } from '../../support/discovered-gateway.js';
import { makeImage, slowToDecodeJpeg } from '../../fixtures/images.js';
import { usersContract } from '../../../src/contracts/users.js';
import { imagesContract } from '../../../src/contracts/images.js';
import { recommendationsContract } from '../../../src/contracts/recommendations.js';

// Issue 12, item 7: a decode-time budget. A small, valid file can hold an image that costs
// seconds of CPU to decode; past IMAGE_DECODE_BUDGET_SECONDS the images service stops decoding
// and refuses the upload (413 PAYLOAD_TOO_LARGE), so one upload can neither hold a decoding slot
// nor outlast the gateway's per-try timeout (which would count against the instance and retry the
// upload on the next replica). Real users, images and recommendations services on a real
// PostgreSQL; the gateway reaches them through discovery with a breaker per instance, as in the
// cluster.

/** The budget the images service runs with here; sharp counts it in whole seconds. */
const budgetSeconds = 1;
/** 6300 x 6300 = 39.7 megapixels: within the default pixel limit, about 2.5 s to decode here. */
const side = 6300;

let stack: Stack;
let discovered: DiscoveredGateway;
let api: ApiClient;
let slow: Buffer;

beforeAll(async () => {
  [stack, slow] = await Promise.all([
    startStack({ env: { images: { IMAGE_DECODE_BUDGET_SECONDS: String(budgetSeconds) }, users: { SCRYPT_LOG2_COST: '10' } } }),
    slowToDecodeJpeg(side, side),
  ]);
  discovered = await startDiscoveredGateway({
    clusterSecret: stack.clusterSecret,
    sharedState: stack.sharedState,
    instances: [[usersContract.serviceName, stack.users.url], [imagesContract.serviceName, stack.images.url], [recommendationsContract.serviceName, stack.recommendations.url]],
    // One answer that counted against the instance would open its breaker, and the next upload would be a 503.
    transport: { breaker: { consecutiveFailures: 1 } },
  });
  api = apiClient(discovered.url);
});

afterAll(async () => {
  await api?.close();
  await discovered?.stop();
  await stack?.stop();
});

describe('the decode-time budget', () => {
  it('refuses a valid image that takes too long to decode with a clear 413, and the service keeps answering', async () => {
    const metadata = await sharp(slow).metadata();
    // A real image within every other limit: only its decoding cost can refuse it.
    expect({ format: metadata.format, width: metadata.width, height: metadata.height, space: metadata.space }).toEqual({ format: 'jpeg', width: side, height: side, space: 'cmyk' });
    const limits = await api.get('/limits');
    expect(slow.length).toBeLessThan(limits.body.maxBytes as number);
    expect(side * side).toBeLessThanOrEqual(limits.body.maxPixels as number);

    const author = await api.newAccount('patient');
    const imagesHost = new URL(stack.images.url).host;
    // Twice: with a breaker that opens on one counted failure, a refusal that counted would make the second a 503.
    for (let attempt = 0; attempt < 2; attempt++) {
      const started = performance.now();
      const refused = await api.upload(author.accessToken, slow, { title: 'too costly' });
      const elapsedMs = performance.now() - started;
      expect(refused.status, JSON.stringify(refused.body)).toBe(413);
      expect(refused.body).toMatchObject({ message: 'failure', imageID: '', code: 'PAYLOAD_TOO_LARGE' });
      expect(refused.body.error).toMatch(/takes too long to decode/);
      // About 1.1 s here: answered well inside the gateway's 12 s per-try timeout for uploads,
      // which, had it passed, would have counted against the instance and retried the upload.
      expect(elapsedMs).toBeLessThan(5_000);
      expect(discovered.transport.breakerState(imagesHost)).toBe('closed');
    }

    // Nothing was stored or counted, and the same author's next, ordinary upload goes through at once.
    expect((await api.get(`/images?author=${author.name}`)).body.images).toEqual([]);
    expect((await api.get('/me', { token: author.accessToken })).body).toMatchObject({ imageCount: 0, quota: { used: 0 } });
    const ordinary = await api.upload(author.accessToken, await makeImage('jpeg', 640, 400), { title: 'fine' });
    expect(ordinary.status, JSON.stringify(ordinary.body)).toBe(201);
    expect((await api.get(`/${ordinary.body.imageID as string}/info`)).body).toMatchObject({ width: 640, height: 400, author: author.name });
    expect(discovered.transport.breakerState(imagesHost)).toBe('closed');
  });
});
