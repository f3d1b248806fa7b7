/**
 * The Strand Console in a real browser: Debian's headless Chromium driven by playwright-core,
 * against a real server (createServer on loopback with a LevelDB log, and a tenant registry for
 * grants), the console built by Vite and served at /ui. Asserts what the page shows; waits only
 * for selectors (no sleeps). Fails on any console error or uncaught exception in the page.
 * Screenshots of each screen go to .strand-test/console/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serveConsole } from '@strand/console';
import { type EventLog, openLog } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { collect } from '@strand/core/testing';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { createServer, type StrandServer } from '@strand/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt, launchBrowser } from '../support/browser.js';
import { login, pageOpener } from './pages.js';

const KEY = 'console-test-key-0123456789abcdef';
const ADMIN_KEY = 'console-admin-key-0123456789abcdef';
const shots = fileURLToPath(new URL('../../.strand-test/console/', import.meta.url));
const dirs: string[] = [];
let log: EventLog;
let server: StrandServer;
let url: string;
let browser: Browser;
let runner: ProjectionRunner;

// A hosted projection whose handler fails for acc/bad-* streams while `broken`: they park.
let broken = true;
const fragile = defineProjection({
  name: 'fragile',
  patterns: ['acc/>'],
  handlers: {
    T: (e, tx) => {
      if (e.stream.startsWith('acc/bad') && broken) throw new Error('boom: the handler failed');
      return tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1);
    },
  },
});

beforeAll(async () => {
  ensureConsoleBuilt();
  mkdirSync(shots, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'strand-console-'));
  dirs.push(dir);
  log = await openLog({ path: dir });
  // Three levels and more: shop/orders/eu/o-1 has 45 events; 60 streams under many/ (more than a tree page).
  await log.append(
    'shop/orders/eu/o-1',
    Array.from({ length: 45 }, (_, i) => ({ type: i === 0 ? 'OrderPlaced' : 'ItemAdded', data: { n: i + 1, sku: `sku-${i + 1}`, nested: { ok: true } }, metadata: { user: 'u-7' } })),
  );
  await log.append('shop/orders/us/o-2', [{ type: 'OrderPlaced', data: { n: 1 } }]);
  await log.append('shop/customers/c-1', [{ type: 'CustomerRegistered', data: { name: 'Ada' } }]);
  for (let i = 0; i < 60; i++) await log.append(`many/s-${String(i).padStart(2, '0')}`, [{ type: 'T', data: { i } }]);
  runner = new ProjectionRunner(log, fragile, { attempts: 1 });
  await runner.start();
  server = createServer({ log, apiKeys: KEY, projections: [runner], routes: { '/ui': serveConsole() } });
  url = await server.listen();
  // On a machine without Chromium this installs Debian's package first (a minute or two).
  browser = await launchBrowser();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await runner?.stop();
  await log?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const open = pageOpener(() => browser);

const versions = (page: Page) => page.$$eval('tr.event', (rows) => rows.map((r) => Number(r.getAttribute('data-version'))));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('the console at /ui', () => {
  it('is served with caching headers: index.html no-cache with a strict CSP, hashed assets immutable and gzipped', async () => {
    const redirect = await fetch(`${url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/ui/');
    const index = await fetch(`${url}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const a of assets) {
      const r = await fetch(`${url}/ui/${a}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(r.headers.get('content-encoding')).toBe('gzip');
      const again = await fetch(`${url}/ui/${a}`, { headers: { 'if-none-match': r.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    expect((await fetch(`${url}/ui/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${url}/ui/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${url}/ui/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${url}/ui/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses a bad API key and shows the error; nothing is kept', async () => {
    const { page, errors } = await open(url);
    await page.fill('#api-key', 'not-the-key-0123456789');
    await page.click('button[type=submit]');
    const alert = await page.waitForSelector('[role=alert]');
    expect(await alert.textContent()).toContain('STRAND_UNAUTHENTICATED');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.$('nav[aria-label=Screens]')).toBeNull();
    await page.screenshot({ path: join(shots, 'login-error.png') });
    // The browser logs the refused request itself (401); nothing else may be logged.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });

  it('browses the tree three levels deep, pages a stream forwards and backwards, opens an event and jumps', async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    expect(await page.evaluate("sessionStorage.getItem('strand.console.apiKey')")).toBe(KEY);
    await page.click('button[aria-label="Expand shop"]');
    await page.click('button[aria-label="Expand shop/orders"]');
    await page.click('button[aria-label="Expand shop/orders/eu"]');
    await page.click('li[data-name="shop/orders/eu/o-1"] >> a');
    await page.waitForSelector('dd[data-field=version]:text("45")');
    expect(page.url()).toMatch(/#\/streams\/shop\/orders\/eu\/o-1$/);
    await page.waitForSelector('tr.event[data-version="45"]');
    expect(await versions(page)).toEqual(range(26, 45));
    await page.screenshot({ path: join(shots, 'streams.png') });

    await page.click('button:text("Older")');
    await page.waitForSelector('tr.event[data-version="6"]');
    expect(await versions(page)).toEqual(range(6, 25));
    await page.click('button:text("Oldest")');
    await page.waitForSelector('tr.event[data-version="1"]');
    expect(await versions(page)).toEqual(range(1, 20));
    expect(await page.isDisabled('button:text("Older")')).toBe(true);
    await page.click('button:text("Newer")');
    await page.waitForSelector('tr.event[data-version="21"]');
    expect(await versions(page)).toEqual(range(21, 40));

    // Open an event: its payload as formatted JSON, its metadata.
    await page.click('tr.event[data-version="21"] button');
    const data = await page.waitForSelector('pre[data-field=data]');
    expect(JSON.parse((await data.textContent())!)).toEqual({ n: 21, sku: 'sku-21', nested: { ok: true } });
    expect(await data.textContent()).toContain('\n  "sku": "sku-21"');
    expect(JSON.parse((await page.textContent('pre[data-field=metadata]'))!)).toEqual({ user: 'u-7' });
    await page.screenshot({ path: join(shots, 'event.png') });

    // Jump to a version, then to a global position (one in this stream, one in another).
    await page.selectOption('#jump-kind', 'version');
    await page.fill('input[aria-label="Version or position"]', '33');
    await page.click('form.jump button[type=submit]');
    await page.waitForSelector('tr.event[data-version="33"] button[aria-expanded=true]');
    expect((await versions(page))[0]).toBe(33);
    const e7 = (await collect(log.readStream('shop/orders/eu/o-1', { from: 7, limit: 1 })))[0]!;
    await page.selectOption('#jump-kind', 'position');
    await page.fill('input[aria-label="Version or position"]', String(e7.position));
    await page.click('form.jump button[type=submit]');
    await page.waitForSelector('tr.event[data-version="7"] button[aria-expanded=true]');
    const other = (await collect(log.readStream('shop/customers/c-1')))[0]!;
    await page.fill('input[aria-label="Version or position"]', String(other.position));
    await page.click('form.jump button[type=submit]');
    const note = await page.waitForSelector('p.note a');
    expect(await note.textContent()).toBe('shop/customers/c-1');
    await note.click();
    await page.waitForSelector('h2.stream-name:text("shop/customers/c-1")');
    await page.waitForSelector('tr.event[data-version="1"]');
    expect(errors).toEqual([]);
  });

  it('pages the tree (never loads a level whole) and searches by name prefix', async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('button[aria-label="Expand many"]');
    await page.waitForSelector('li[data-name="many/s-49"]');
    expect(await page.$('li[data-name="many/s-50"]')).toBeNull();
    await page.click('button:text("more under many")');
    await page.waitForSelector('li[data-name="many/s-59"]');
    expect(await page.$$eval('li[data-name^="many/"]', (l) => l.length)).toBe(60);

    await page.fill('#stream-search', 'shop/orders/e');
    await page.waitForSelector('.search-results li[data-name="shop/orders/eu"]');
    expect(await page.$$eval('.search-results li[data-name]', (l) => l.map((e) => e.getAttribute('data-name')))).toEqual(['shop/orders/eu']);
    await page.fill('#stream-search', 'many/s-5');
    await page.waitForSelector('.search-results li[data-name="many/s-59"]');
    expect(await page.$$eval('.search-results li[data-name]', (l) => l.map((e) => e.getAttribute('data-name')))).toEqual(range(50, 59).map((i) => `many/s-${i}`));
    await page.fill('#stream-search', 'nothing-here');
    await page.waitForSelector('.search-results p.muted:text("No stream starts with")');
    expect(errors).toEqual([]);
  });

  it('tails live: an event appended during the test arrives; pause, append, resume delivers what came meanwhile', async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Live tail');
    await page.fill('#tail-pattern', 'shop/>');
    await page.click('form.tail-controls button[type=submit]');
    await page.waitForSelector('[data-state=live]');
    const a = await log.append('shop/orders/eu/o-1', [{ type: 'Shipped', data: { carrier: 'tail-test' } }]);
    await log.append('many/s-00', [{ type: 'NotMatching', data: {} }]);
    const li = await page.waitForSelector(`li.tail-event[data-position="${a.position}"]`);
    expect(await li.textContent()).toContain('Shipped');
    expect(await li.textContent()).toContain('tail-test');
    await page.screenshot({ path: join(shots, 'tail.png') });

    await page.click('button:text("Pause")');
    await page.waitForSelector('[data-state=paused]');
    const b = await log.append('shop/orders/us/o-2', [{ type: 'Cancelled', data: { while: 'paused' } }]);
    await page.click('button:text("Resume")');
    await page.waitForSelector(`li.tail-event[data-position="${b.position}"]`);
    expect(await page.$$eval('li.tail-event', (l) => l.map((e) => Number(e.getAttribute('data-position'))))).toEqual([b.position, a.position]);
    expect(errors).toEqual([]);
  });

  it('shows the overview: head position and the server version', async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Overview');
    const head = await log.headPosition();
    await page.waitForSelector(`[data-field=head]:text("${head}")`);
    await page.waitForSelector('[data-field=server-version]:text("0.1.0")');
    await page.screenshot({ path: join(shots, 'overview.png') });
    expect(errors).toEqual([]);
  });

  it('works with the keyboard alone: sign in, open the tree, open a stream', async () => {
    const { page, errors } = await open(url);
    /** Presses Tab until the focused element matches `selector` (at most 40 times). */
    const tabTo = async (selector: string) => {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) === true`)) return;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await tabTo('#api-key');
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav[aria-label=Screens]');
    await tabTo('button[aria-label="Expand shop"]');
    await page.keyboard.press('Enter');
    await tabTo('button[aria-label="Expand shop/orders"]');
    await page.keyboard.press('Enter');
    await tabTo('button[aria-label="Expand shop/orders/us"]');
    await page.keyboard.press('Enter');
    await tabTo('li[data-name="shop/orders/us/o-2"] a');
    await page.keyboard.press('Enter');
    await page.waitForSelector('h2.stream-name:text("shop/orders/us/o-2")');
    await page.waitForSelector('tr.event[data-version="1"]');
    expect(errors).toEqual([]);
  });

  it('shows a projection, its lag and parked streams with the error; skip and retry from the UI', async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Projections');
    await page.waitForSelector('section[data-projection=fragile]');
    await log.append('acc/ok', [{ type: 'T', data: 1 }]);
    await log.append('acc/bad-1', [{ type: 'T', data: 1 }]);
    await log.append('acc/bad-2', [{ type: 'T', data: 1 }]);
    const row = await page.waitForSelector('tr[data-parked="acc/bad-1"]');
    expect(await row.textContent()).toContain('boom: the handler failed');
    await page.waitForSelector('tr[data-parked="acc/bad-2"]');
    await page.screenshot({ path: join(shots, 'projections.png') });
    await page.click('tr[data-parked="acc/bad-2"] >> button:text("Skip")');
    await page.waitForSelector('tr[data-parked="acc/bad-2"]', { state: 'detached' });
    broken = false;
    await page.click('tr[data-parked="acc/bad-1"] >> button:text("Retry")');
    await page.waitForSelector('tr[data-parked="acc/bad-1"]', { state: 'detached' });
    await page.waitForSelector('section[data-projection=fragile] h3:text("Parked streams (0)")');
    expect(await runner.view().get('n', 'acc/bad-1')).toBe(1);
    expect(await runner.view().get('n', 'acc/bad-2')).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('shows the schema registry: types, compatibility and each version\'s JSON Schema', async () => {
    const schema = { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] };
    const reg = await fetch(`${url}/strand.v1.SchemaRegistryService/RegisterSchema`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ type: 'ConsoleSchemaDemo', version: 1, jsonSchema: JSON.stringify(schema), compatibility: 'backward' }),
    });
    expect(reg.status).toBe(200);
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Schemas');
    const row = await page.waitForSelector('tr[data-type=ConsoleSchemaDemo]');
    expect(await row.textContent()).toContain('backward');
    await page.click('tr[data-type=ConsoleSchemaDemo] >> button:text("v1")');
    const pre = await page.waitForSelector('pre[data-field=json-schema]');
    expect(JSON.parse((await pre.textContent())!)).toMatchObject(schema);
    await page.screenshot({ path: join(shots, 'schemas.png') });
    expect(errors).toEqual([]);
  });

  it('fits a phone-sized window: the tree and the stream stack', async () => {
    const { page, errors } = await open(url, { width: 390, height: 844 });
    await login(page, KEY);
    await page.goto(`${url}/ui/#/streams/shop/orders/us/o-2`);
    await page.waitForSelector('tr.event[data-version="1"]');
    const tree = (await page.locator('aside.tree-pane').boundingBox())!;
    const detail = (await page.locator('section.detail').boundingBox())!;
    expect(detail.y).toBeGreaterThanOrEqual(tree.y + tree.height);
    expect(detail.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});

describe('the console with tenants', () => {
  let tenants: TenantManager;
  let tserver: StrandServer;
  let turl: string;
  let narrow: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strand-console-tenants-'));
    dirs.push(dir);
    const { ClassicLevel } = await import('classic-level');
    tenants = await TenantManager.open({ store: new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await tenants.createTenant('acme');
    narrow = (await tenants.createPrincipal('acme', (['read', 'subscribe'] as const).map((permission) => ({ permission, pattern: 'orders/>' })))).apiKey;
    const acme = (await tenants.tenant('acme')).log;
    await acme.append('orders/o-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    await acme.append('secret/payroll', [{ type: 'Paid', data: { amount: 99 } }]);
    tserver = createServer({ tenants, adminKey: ADMIN_KEY, routes: { '/ui': serveConsole() } });
    turl = await tserver.listen();
  });
  afterAll(async () => {
    await tserver?.close();
    await tenants?.close();
  });

  it('the admin credential administers tenants: list, create, suspend, usage, principals and a new key', async () => {
    const { page, errors } = await open(turl);
    await login(page, ADMIN_KEY);
    expect(await page.$$eval('nav[aria-label=Screens] a', (l) => l.map((a) => a.textContent))).toEqual(['Tenants', 'Overview']);
    await page.waitForSelector('tr[data-tenant=acme]');
    await page.fill('#tenant-name', 'globex');
    await page.fill('#tenant-quotas', '{"streams":10}');
    await page.click('form.tenant-create button[type=submit]');
    await page.waitForSelector('tr[data-tenant=globex] [data-field=status]:text("active")');
    expect(await page.textContent('tr[data-tenant=globex]')).toContain('"streams":10');
    await page.click('tr[data-tenant=globex] >> button:text("Suspend")');
    await page.waitForSelector('tr[data-tenant=globex] [data-field=status]:text("suspended")');
    expect(tenants.list().find((t) => t.name === 'globex')?.status).toBe('suspended');
    await page.click('tr[data-tenant=acme] >> button:text("acme")');
    await page.waitForSelector('.tenant-detail li[data-principal]');
    expect(await page.textContent('pre[data-field=usage]')).toContain('{');
    await page.fill('#principal-label', 'reader');
    await page.fill('#principal-grants', 'read orders/>');
    await page.click('form.principal-create button[type=submit]');
    const key = (await (await page.waitForSelector('[data-field=new-key]')).textContent())!;
    await page.waitForSelector('.tenant-detail li[data-principal] >> text=reader');
    await page.screenshot({ path: join(shots, 'tenants.png') });
    // The new key works, within its grant.
    const r = await fetch(`${turl}/strand.v1.EventStoreService/ReadStream`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ stream: 'orders/o-1' }) });
    expect(r.status).toBe(200);
    // Signing in with the admin key first tries it as a data key: the browser logs that 401.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });

  it('a principal with a narrow grant sees only the streams it may read', async () => {
    const { page, errors } = await open(turl);
    await login(page, narrow);
    await page.waitForSelector('li[data-name="orders"]');
    expect(await page.$$eval('li[data-name]', (l) => l.map((e) => e.getAttribute('data-name')))).toEqual(['orders']);
    await page.click('button[aria-label="Expand orders"]');
    await page.waitForSelector('li[data-name="orders/o-1"]');
    await page.goto(`${turl}/ui/#/streams/secret/payroll`);
    const alert = await page.waitForSelector('[role=alert]');
    expect(await alert.textContent()).toContain('STRAND_ACCESS_DENIED');
    expect(await page.$('tr.event')).toBeNull();
    // The refused read is logged by the browser (403); nothing else may be.
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
  });
});

describe('strand serve', () => {
  it('serves the console at /ui; --demo seeds a shop the console shows, and keeps appending orders the tail receives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strand-console-serve-'));
    dirs.push(dir);
    const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
    const child = spawn(process.execPath, [bin, '--path', dir, '--json', 'serve', '--port', '0', '--demo'], { env: { ...process.env, STRAND_API_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        void exited.then((code) => reject(new Error(`strand serve exited with ${code}`)));
      });
      const started = JSON.parse(line) as { url: string; console: string; demo: boolean };
      expect(started.console).toBe(`${started.url}/ui/`);
      expect(started.demo).toBe(true);
      const res = await fetch(started.console);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="app"></div>');

      const { page, errors } = await open(started.url);
      await login(page, KEY);
      await page.click('button[aria-label="Expand shop"]');
      await page.waitForSelector('li[data-name="shop/orders"]');
      expect(await page.$$eval('li[data-name^="shop/"]', (l) => l.map((e) => e.getAttribute('data-name')))).toEqual(['shop/customers', 'shop/inventory', 'shop/orders']);
      await page.click('nav >> text=Live tail');
      await page.click('form.tail-controls button[type=submit]');
      await page.waitForSelector('[data-state=live]');
      // The demo appends an order every 3 s: one arrives.
      const li = await page.waitForSelector('li.tail-event:has-text("OrderPlaced")', { timeout: 30_000 });
      expect(await li.textContent()).toContain('shop/orders/');
      expect(errors).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
