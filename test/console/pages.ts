/**
 * Console pages for the browser tests: one opener per test file (contexts closed after each
 * test) and signing in. Vitest-only; the bench uses `../support/browser.ts` alone.
 *
 * @module
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach } from 'vitest';

/** A page of the console opened by a test, with the console errors and uncaught exceptions it logged. */
export interface Opened {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen in the page. */
  errors: string[];
}

/**
 * `open(base, viewport)` for a test file: a fresh browser context on the console at `base/ui/`,
 * recording the page's errors, closed after each test. `browser` is read when a page is opened
 * (test files launch it in `beforeAll`).
 */
export function pageOpener(browser: () => Browser): (base: string, viewport?: { width: number; height: number }) => Promise<Opened> {
  const opened: Opened[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.context.close();
  });
  return async (base, viewport = { width: 1280, height: 800 }) => {
    const context = await browser().newContext({ viewport });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/ui/`);
    const o = { context, page, errors };
    opened.push(o);
    return o;
  };
}

/** Signs in to the console with an API key and waits for the screens' navigation. */
export async function login(page: Page, key: string): Promise<void> {
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav[aria-label=Screens]');
}
