import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../src/launcher/paths.js';

// Debian's chromium driven by playwright-core (nothing downloads a browser), axe-core for
// accessibility, screenshots at desktop and phone widths, and a watch on Content-Security-Policy
// violations and script errors on every page.

export const chromiumPath = '/usr/bin/chromium';
export const outputDir = join(repoRoot(), 'test-results', 'browser');
export const desktop = { width: 1280, height: 860 };
export const phone = { width: 375, height: 812 };

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // A fresh profile each launch (playwright makes a temporary user-data-dir); no calls home.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface WatchedPage {
  page: Page;
  /** CSP violations and uncaught script errors seen so far. */
  problems: string[];
  /** Requests sent, as "METHOD /path". */
  requests: string[];
}

export async function openPage(browser: Browser, options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; watched: WatchedPage }> {
  const context = await browser.newContext({ viewport: options.viewport ?? desktop, colorScheme: options.colorScheme ?? 'light', reducedMotion: 'reduce' });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  // Runs before the page's own scripts, outside its CSP.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { cspViolations: string[] }).cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
    (window as unknown as { cspViolations: string[] }).cspViolations = [];
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => requests.push(`${request.method()} ${new URL(request.url()).pathname}`));
  return { context, watched: { page, problems, requests } };
}

/** CSP violations the page itself reported (collected by the init script). */
export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations?: string[] }).cspViolations ?? []);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** Serious and critical accessibility violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // evaluate() is not subject to the page's CSP, so axe runs under the strict policy unchanged.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.slice(0, 3).map((node) => ({ target: node.target, failureSummary: node.failureSummary })),
    }));
  });
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

/** Screenshots of the page as it is, at desktop width and at 375 px, into test-results/browser. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(outputDir, { recursive: true });
  const before = page.viewportSize() ?? desktop;
  for (const [label, size] of [['desktop', desktop], ['375px', phone]] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(100); // one layout pass for the new width (images already loaded)
    await page.screenshot({ path: join(outputDir, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(before);
}

/** Waits until every image in the page's main area has loaded (so screenshots show them). */
export async function imagesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => [...document.querySelectorAll('main img')].every((image) => (image as HTMLImageElement).complete));
}
