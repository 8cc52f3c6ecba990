import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSurfaces } from '../support/openapi-documents.js';
import { cspViolations, launchChromium, openPage } from './browser-support.js';

// The API reference viewer (/docs, Swagger UI from local files) works in a real browser under
// its Content-Security-Policy: it loads the document and shows every operation, with no CSP
// violation, no script error and no request leaving the server. Each surface is built alone
// with stand-ins (no cluster): the viewer needs no service.

describe.each(apiSurfaces)('the $name API viewer at /docs', (surface) => {
  let browser: Browser;
  let app: FastifyInstance;
  let origin: string;

  beforeAll(async () => {
    app = await surface.build();
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('shows every operation of the document, under its CSP, from local files only', async () => {
    const { context, watched } = await openPage(browser);
    const outside: string[] = [];
    watched.page.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) outside.push(request.url());
    });
    await watched.page.goto(`${origin}/docs`);
    await watched.page.locator('.opblock').first().waitFor({ timeout: 15_000 });
    const document = (await (await fetch(`${origin}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, { tags?: string[] }>> };
    // Swagger UI lists an operation once under each of its tags.
    const shown = Object.values(document.paths).flatMap((methods) => Object.values(methods)).reduce((sum, operation) => sum + Math.max(1, operation.tags?.length ?? 0), 0);
    expect(await watched.page.locator('.opblock').count()).toBe(shown);
    expect(await watched.page.getByText('original contract', { exact: true }).count()).toBeGreaterThan(0);
    expect([...watched.problems, ...(await cspViolations(watched.page))]).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  });
});
