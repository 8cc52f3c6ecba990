import type { ApiDocsOptions } from '../../platform/api-docs.js';
import { limits } from '../../contracts/limits.js';

// The public API's reference: OpenAPI 3.1 from the route schemas at /docs/openapi.json, Swagger
// UI at /docs (src/platform/api-docs.ts registers both). Committed as docs/openapi.json
// (`npm run docs:openapi`).

/** The original design's public endpoints (docs/departures.md): answers keep their paths, bodies and texts. */
export const gatewayOriginalContract = ['POST /signup', 'POST /login', 'POST /img', 'GET /{imgID}', 'PATCH /{imgID}', 'DELETE /{imgID}'] as const;

const description = [
  'The public REST API of Easel, generated from the gateway\'s route schemas (src/gateway/routes).',
  '',
  'Operations tagged `original contract` (and marked `x-original-contract: true`) are the original design\'s, kept verbatim; everything else is added beside them (docs/departures.md).',
  '',
  'Every failure answers `{message: "failure", error, code}` with the status of its code, except in the original\'s own shapes: `POST /login` and `POST /refresh` answer empty tokens, `POST /img` an empty `imageID`, `GET /{imgID}` an empty image, each with `error` and `code`. A 5xx never carries internals. Every 429 and 503 carries `Retry-After` (seconds).',
  '',
  'Request bodies are JSON (or, for `POST /img`, also multipart/form-data). Body fields a route does not name are ignored, not refused, so a client of the original contract may send `imageID` or `author` as it always did.',
  '',
  'The access token is read from the `accessToken` cookie, `Authorization: Bearer <token>`, or the body field `accessToken`. Cookie-authenticated writes from another site are refused (403).',
  '',
  '## Limits',
  '',
  `- Request body: 16 MiB (a JSON upload carries base64). Multipart: one file, at most 20 fields of 64 KiB.`,
  `- Image bytes and pixels: \`GET /limits\` (defaults 10 MiB, 40 megapixels; PNG, JPEG, WebP, GIF).`,
  `- Title ${limits.image.title}, description ${limits.image.description} characters; at most ${limits.image.tags} tags of ${limits.image.tagLength} characters.`,
  `- Account name ${limits.account.nameMin}-${limits.account.nameMax} characters; password ${limits.account.passwordMin}-${limits.account.passwordMax} characters.`,
  `- Pages: \`/images\` up to ${limits.page.images}, \`/tags\` up to ${limits.page.tags}, \`/recommendations\` up to ${limits.page.recommendations}.`,
  '- Rate limits: failed logins per name and per address in a window (`LOGIN_FAILURES_PER_NAME`, default 10; `LOGIN_FAILURES_PER_ADDRESS`, 30; `LOGIN_FAILURE_WINDOW_SECONDS`, 300); uploads per user (`UPLOADS_PER_USER`, 30 per `UPLOAD_WINDOW_SECONDS`, 60); an upload quota per account (`UPLOAD_QUOTA`, 100).',
].join('\n');

/** What createHttpServer needs to serve the gateway's document and viewer under /docs. */
export const gatewayApiDocs: ApiDocsOptions = {
  title: 'Easel public API',
  description,
  version: '1',
  originalContract: gatewayOriginalContract,
  tags: [
    { name: 'accounts', description: 'Sign up, log in, token refresh and log out' },
    { name: 'images', description: 'Upload, read, change and delete images; listings and limits' },
    { name: 'recommendations', description: 'Tags, likes and recommended images' },
    { name: 'users', description: 'The signed-in caller' },
    { name: 'web app', description: 'The browser front end under /app/' },
    { name: 'operations', description: 'Health (metrics are on the internal metrics port)' },
  ],
};
