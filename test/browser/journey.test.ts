import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/launcher/paths.js';
import { startTestCluster, type TestCluster } from '../harness/cluster.js';
import { artwork, noisyArtwork } from './artwork.js';
import { chromiumPath, cspViolations, imagesLoaded, launchChromium, openPage, screenshots, seriousViolations, type WatchedPage } from './browser-support.js';

// The web app in a real browser against a real cluster: a person signs up, uploads with the
// progress bar shown, finds the image in their gallery and on its tag page; a second person
// likes it and is then recommended another image with that tag; the author edits and deletes
// it; an upload over the limit is refused before sending. Every page is screenshot at desktop
// and 375 px, checked by axe-core, and served under a strict Content-Security-Policy that
// must never be violated.

const maxImageBytes = 1_500_000;
const suffix = randomBytes(3).toString('hex');
const tag = `watercolor${suffix}`;
const artist = { name: `ada_${suffix}`, password: 'brushes and paper' };
const admirer = { name: `ben_${suffix}`, password: 'galleries on sunday' };

let cluster: TestCluster;
let browser: Browser;
let files: string;
let app: string;
const pages: WatchedPage[] = [];
const checkedPages: string[] = [];

/** Screenshots and an axe scan of the page as it is; any serious or critical violation fails the test. */
async function record(watched: WatchedPage, name: string): Promise<void> {
  await imagesLoaded(watched.page);
  const violations = await seriousViolations(watched.page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 2)}`).toEqual([]);
  await screenshots(watched.page, name);
  checkedPages.push(name);
}

async function fill(page: Page, label: string | RegExp, value: string) {
  await page.getByLabel(label, { exact: typeof label === 'string' }).fill(value);
}

async function signUp(page: Page, person: { name: string; password: string }) {
  await page.goto(`${app}signup`);
  await fill(page, 'Name', person.name);
  await fill(page, 'Password', person.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText(`Signed in as ${person.name}`).waitFor();
}

/** Uploads through the API (fillers the recommendations must rank below the tag match). */
async function apiUpload(token: string, image: Buffer, title: string, tags: string): Promise<string> {
  const form = new FormData();
  form.append('title', title);
  form.append('tags', tags);
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'filler.png');
  const answer = await fetch(`${cluster.gatewayUrl}/img`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  expect(answer.status).toBe(201);
  return ((await answer.json()) as { imageID: string }).imageID;
}

async function apiAccount(name: string): Promise<string> {
  const credentials = JSON.stringify({ name, password: 'a filler password' });
  const headers = { 'content-type': 'application/json' };
  expect((await fetch(`${cluster.gatewayUrl}/signup`, { method: 'POST', headers, body: credentials })).status).toBe(201);
  const login = await fetch(`${cluster.gatewayUrl}/login`, { method: 'POST', headers, body: credentials });
  return ((await login.json()) as { accessToken: string }).accessToken;
}

function recommended(page: Page) {
  return page.getByRole('list', { name: 'Recommended images' });
}

beforeAll(async () => {
  expect(existsSync(chromiumPath), `${chromiumPath} is missing: run "make deps" (it installs Debian's chromium)`).toBe(true);
  expect(existsSync(join(repoRoot(), 'web', 'dist', 'index.html')), 'the web app is not built: run "npm run build"').toBe(true);
  expect(existsSync(join(repoRoot(), 'dist', 'src', 'gateway', 'main.js')), 'the services are not built: run "npm run build"').toBe(true);
  files = mkdtempSync(join(tmpdir(), 'easel-browser-'));
  [cluster, browser] = await Promise.all([
    startTestCluster({ layout: { serviceEnv: { MAX_IMAGE_BYTES: String(maxImageBytes), SCRYPT_LOG2_COST: '10' } } }),
    launchChromium(),
  ]);
  app = `${cluster.gatewayUrl}/app/`;
});

afterAll(async () => {
  for (const watched of pages) await watched.page.context().close().catch(() => undefined);
  await browser?.close();
  await cluster?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

describe('the web app in a browser', () => {
  let firstImage = '';

  it('a visitor is sent from / to the app, whose page carries a strict CSP', async () => {
    const { watched } = await openPage(browser);
    pages.push(watched);
    const answer = await watched.page.goto(`${cluster.gatewayUrl}/`);
    expect(watched.page.url()).toBe(app);
    const csp = answer?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(answer?.headers()['cache-control']).toBe('no-cache');
    const script = await watched.page.locator('script[type="module"]').getAttribute('src');
    const asset = await fetch(`${cluster.gatewayUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await watched.page.getByRole('heading', { name: 'Popular and new' }).waitFor();
    await watched.page.getByText('Nothing here yet.').waitFor();
    // The first Tab reaches the skip link, and focus is visible.
    await watched.page.keyboard.press('Tab');
    const focused = await watched.page.evaluate(() => {
      const element = document.activeElement as HTMLElement;
      return { text: element.textContent, outline: getComputedStyle(element).outlineStyle };
    });
    expect(focused).toEqual({ text: 'Skip to content', outline: 'solid' });
    await record(watched, 'home-empty');
  });

  it('a person signs up and uploads an image, watching the progress bar', async () => {
    const { watched } = await openPage(browser);
    pages.push(watched);
    const { page } = watched;
    await page.goto(`${app}signup`);
    await record(watched, 'signup');
    await signUp(page, artist);
    await page.getByRole('heading', { name: 'Upload an image' }).waitFor();

    const picture = await noisyArtwork(1, 640, 480);
    expect(picture.length).toBeGreaterThan(300_000);
    expect(picture.length).toBeLessThan(maxImageBytes);
    const path = join(files, 'harbour.png');
    writeFileSync(path, picture);
    await page.getByLabel(/^Image/).setInputFiles(path);
    await page.getByRole('img', { name: 'Preview of the chosen image' }).waitFor();
    await fill(page, 'Title', 'Harbour at dusk');
    await fill(page, 'Description', 'Boats coming home, painted from the pier.');
    await page.getByRole('combobox', { name: 'Tags' }).fill(`${tag}, sea`);
    await record(watched, 'upload-form');

    // A slow uplink (about 3 s for this file), so the bar can be seen moving.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: Math.round(picture.length / 3) });
    await page.getByRole('button', { name: 'Upload' }).click();
    const bar = page.getByRole('progressbar');
    await page.waitForFunction(() => {
      const element = document.querySelector('progress');
      return element !== null && element.hasAttribute('value') && Number(element.getAttribute('value')) > 0
        && Number(element.getAttribute('value')) < Number(element.getAttribute('max'));
    });
    const during = { value: Number(await bar.getAttribute('value')), max: Number(await bar.getAttribute('max')) };
    expect(during.value).toBeGreaterThan(0);
    expect(during.value).toBeLessThan(during.max);
    expect(during.max).toBeGreaterThanOrEqual(picture.length);
    await expect(page.getByText(/Uploading… \d+%/).textContent()).resolves.toMatch(/Uploading… \d+% \(/);
    await screenshots(page, 'upload-progress');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    await page.getByRole('heading', { name: 'Harbour at dusk', level: 1 }).waitFor({ timeout: 30_000 });
    firstImage = page.url().split('/images/')[1]!;
    expect(firstImage).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await page.getByText('Boats coming home, painted from the pier.').waitFor();
    await page.getByRole('link', { name: `#${tag}` }).waitFor();
    expect(await page.getByRole('link', { name: /Open the original/ }).getAttribute('href')).toBe(`/${firstImage}/raw`);
    expect(await page.getByRole('img', { name: 'Harbour at dusk' }).getAttribute('src')).toBe(`/${firstImage}/medium`);
    await record(watched, 'image');

    // A second image with the same tag, dropped onto the drop zone.
    await page.getByRole('link', { name: 'Upload', exact: true }).click();
    const lighthouse = (await artwork(2, 900, 600)).toString('base64');
    const dropped = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'lighthouse.png', { type: 'image/png' }));
      return transfer;
    }, lighthouse);
    await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer: dropped });
    await page.getByRole('img', { name: 'Preview of the chosen image' }).waitFor();
    await fill(page, 'Title', 'Lighthouse');
    await page.getByRole('combobox', { name: 'Tags' }).fill(`${tag}, coast`);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('heading', { name: 'Lighthouse', level: 1 }).waitFor({ timeout: 30_000 });
    expect(watched.problems).toEqual([]);
  });

  it('other artists fill the feed', async () => {
    // Newer images with other tags: without an interest in the tag, the Lighthouse is not among a newcomer's recommendations.
    const token = await apiAccount(`cleo_${suffix}`);
    const titles = ['Morning field', 'Purple hills', 'Desert noon', 'Pine ridge', 'Harbour lights', 'Quiet bay', 'Spring meadow', 'Evening glow', 'Dunes', 'Orchard', 'Snowline', 'Valley', 'Rain clouds', 'Old mill'];
    for (const [index, title] of titles.entries()) await apiUpload(token, await artwork(10 + index, 480, 360), title, `landscape, study${index}`);
  });

  it('the artist finds the image in their gallery and on its tag page (found with autocomplete)', async () => {
    const watched = pages[1]!;
    const { page } = watched;
    await page.getByRole('link', { name: 'My images' }).click();
    await page.getByText('Upload quota: 2 of 100 used').waitFor();
    const mine = page.getByRole('list', { name: 'My images' });
    await mine.getByRole('link', { name: 'Harbour at dusk' }).first().waitFor();
    await mine.getByRole('link', { name: 'Lighthouse' }).first().waitFor();
    await record(watched, 'my-images');

    await page.getByRole('link', { name: artist.name }).first().click();
    await page.getByRole('heading', { name: artist.name, level: 1 }).waitFor();
    await page.getByRole('list', { name: `Images by ${artist.name}` }).getByRole('link', { name: 'Harbour at dusk' }).first().waitFor();
    await record(watched, 'artist');

    await page.getByRole('link', { name: 'Tags', exact: true }).click();
    await page.getByRole('heading', { name: 'Most used' }).waitFor();
    await record(watched, 'tags');
    const search = page.getByRole('combobox', { name: 'Find a tag' });
    await search.pressSequentially(tag.slice(0, 12), { delay: 20 });
    await page.getByRole('option', { name: new RegExp(tag) }).waitFor();
    await search.press('ArrowDown');
    await search.press('Enter');
    await page.getByRole('heading', { name: `#${tag}`, level: 1 }).waitFor();
    const tagged = page.getByRole('list', { name: `Images tagged ${tag}` });
    await tagged.getByRole('link', { name: 'Harbour at dusk' }).first().waitFor();
    await tagged.getByRole('link', { name: 'Lighthouse' }).first().waitFor();
    await record(watched, 'tag');
  });

  it('an upload over the limit is refused before sending, with a clear message', async () => {
    const watched = pages[1]!;
    const { page } = watched;
    await page.getByRole('link', { name: 'Upload', exact: true }).click();
    const tooBig = Buffer.concat([await artwork(5, 200, 200), randomBytes(maxImageBytes + 600_000)]);
    const path = join(files, 'huge-canvas.png');
    writeFileSync(path, tooBig);
    const sentBefore = watched.requests.filter((request) => request === 'POST /img').length;
    await page.getByLabel(/^Image/).setInputFiles(path);
    const message = page.getByText(/“huge-canvas\.png” is 2 MB; Easel takes images up to 1\.4 MB\. Export it smaller/).first();
    await message.waitFor();
    await fill(page, 'Title', 'Too big to send');
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText('Please fix this before uploading:').waitFor();
    await page.waitForTimeout(300);
    expect(watched.requests.filter((request) => request === 'POST /img').length).toBe(sentBefore);
    await record(watched, 'upload-refused');
  });

  it('an expired access token is renewed without the person noticing', async () => {
    const { page, requests } = pages[1]!;
    await page.context().clearCookies({ name: 'accessToken' });
    await page.goto(`${app}me`);
    await page.getByText('Upload quota: 2 of 100 used').waitFor();
    expect(requests).toContain('POST /refresh');
    expect(await page.getByRole('link', { name: 'Log in' }).count()).toBe(0);
  });

  it('a second person likes it and is then recommended the other image with that tag', async () => {
    const { watched } = await openPage(browser, { viewport: { width: 375, height: 812 } });
    pages.push(watched);
    const { page } = watched;
    await signUp(page, admirer);
    await page.goto(app);
    await recommended(page).getByRole('link').first().waitFor();
    expect(await recommended(page).getByRole('link', { name: 'Lighthouse' }).count()).toBe(0);

    await page.goto(`${app}images/${firstImage}`);
    const like = page.getByRole('button', { name: 'Like' });
    await like.waitFor();
    expect(await like.getAttribute('aria-pressed')).toBe('false');
    await like.click();
    const liked = page.getByRole('button', { name: 'Liked' });
    await liked.waitFor();
    expect(await liked.getAttribute('aria-pressed')).toBe('true');
    await page.getByText('1 like', { exact: true }).waitFor();
    await record(watched, 'image-liked');

    await page.getByRole('link', { name: 'Home' }).click();
    await recommended(page).getByRole('link', { name: 'Lighthouse' }).first().waitFor();
    const firstRecommended = await recommended(page).getByRole('img').first().getAttribute('alt');
    expect(firstRecommended).toBe('Lighthouse');
    await record(watched, 'home-recommended');

    // After a reload the like is still there.
    await page.goto(`${app}images/${firstImage}`);
    await page.getByRole('button', { name: 'Liked' }).waitFor();
    expect(watched.problems).toEqual([]);
  });

  it('the home feed in the dark, for a visitor, scrolls on through every image', async () => {
    const { watched } = await openPage(browser, { colorScheme: 'dark', viewport: { width: 375, height: 812 } });
    pages.push(watched);
    const { page } = watched;
    await page.goto(app);
    const newest = page.getByRole('list', { name: 'Newest images' });
    await newest.getByRole('listitem').first().waitFor();
    // One page of the cursor API (12) until the end of the list scrolls into view, then the rest.
    expect(await newest.getByRole('listitem').count()).toBe(12);
    expect(watched.requests.filter((request) => request === 'GET /images')).toHaveLength(1);
    await page.getByRole('button', { name: 'Show more' }).scrollIntoViewIfNeeded();
    await page.getByText('That is all of them.').waitFor();
    expect(await newest.getByRole('listitem').count()).toBe(16);
    await newest.getByRole('link', { name: 'Harbour at dusk' }).first().waitFor();
    expect(watched.requests.filter((request) => request === 'GET /images')).toHaveLength(2);
    const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(background).toBe('rgb(20, 19, 24)');
    await record(watched, 'home-dark');
  });

  it('an API failure is said in words, never a blank page', async () => {
    const { watched } = await openPage(browser);
    pages.push(watched);
    const { page } = watched;
    await page.route('**/recommendations?*', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ message: 'failure', error: 'no instance can serve', code: 'UNAVAILABLE' }) }));
    await page.route('**/images?*', (route) => route.abort('connectionrefused'));
    await page.goto(app);
    await page.getByText('Recommendations could not be loaded. Easel is having trouble right now. Please try again in a moment.').waitFor();
    await page.getByText('The images could not be loaded. Could not reach Easel. Check your connection and try again.').waitFor();
    await page.unroute('**/images?*');
    await page.getByRole('button', { name: 'Try again' }).last().click();
    await page.getByRole('list', { name: 'Newest images' }).getByRole('listitem').first().waitFor();
    await record(watched, 'home-api-failing');
  });

  it('the author edits the image, then deletes it after confirming', async () => {
    const watched = pages[1]!;
    const { page } = watched;
    await page.goto(`${app}images/${firstImage}`);
    await page.getByRole('button', { name: 'Edit' }).click();
    await record(watched, 'image-edit');
    await fill(page, 'Title', 'Harbour at night');
    await page.getByRole('combobox', { name: 'Tags' }).fill(`${tag}, sea, night`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Harbour at night', level: 1 }).waitFor();
    await page.getByRole('link', { name: '#night' }).waitFor();
    await page.getByText('1 like', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “Harbour at night”?' });
    await dialog.waitFor();
    await record(watched, 'image-delete-confirm');
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await page.getByRole('heading', { name: 'Harbour at night', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Yes, delete it' }).click();

    await page.getByText('Deleted “Harbour at night”.').waitFor();
    await page.getByText('Upload quota: 1 of 100 used').waitFor();
    await page.getByRole('list', { name: 'My images' }).getByRole('link', { name: 'Lighthouse' }).first().waitFor();
    expect(await page.getByRole('list', { name: 'My images' }).getByRole('link', { name: 'Harbour at night' }).count()).toBe(0);

    await page.goto(`${app}images/${firstImage}`);
    await page.getByRole('heading', { name: 'Image not found' }).waitFor();
    await page.getByText('This image does not exist, or its author deleted it.').waitFor();
    await record(watched, 'image-missing');
    expect(watched.problems).toEqual([]);
  });

  it('logs out and back in; a wrong password is said in words', async () => {
    const watched = pages[1]!;
    const { page } = watched;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).first().click();
    await fill(page, 'Name', artist.name);
    await fill(page, 'Password', 'not my password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Your login or password is not correct.').waitFor();
    await record(watched, 'login-failed');
    await fill(page, 'Password', artist.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText(`Signed in as ${artist.name}`).waitFor();
  });

  it('no page reported a CSP violation or a script error', async () => {
    for (const watched of pages) {
      expect(watched.problems).toEqual([]);
      expect(await cspViolations(watched.page)).toEqual([]);
    }
    expect(checkedPages.length).toBeGreaterThanOrEqual(14);
  });
});
