/**
 * The console's inspection screens and grant-aware actions in a real browser (Debian's headless
 * Chromium via playwright-core), against real `strand serve` child processes: the Snapshots
 * screen, schema bindings and the store's size on a `--demo` log; metering over time, the store
 * size of a tenant and the append form offered only to a key that may append, on `--tenants`;
 * projection actions hidden from a read-only key (an embedded server, since `strand serve
 * --tenants` hosts no projections). Waits are for selectors only; any console error fails a test.
 *
 * `STRAND_README_SCREENSHOTS=1` also writes the README's screenshot (docs/images/console-streams.png).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, connectAdmin, type StrandAdmin, type StrandClient } from '@strand/client';
import { serveConsole } from '@strand/console';
import { TenantManager } from '@strand/core/tenancy';
import { collect, dirSize } from '@strand/core/testing';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { createServer } from '@strand/server';
import { MemoryLevel } from 'memory-level';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ensureConsoleBuilt, launchBrowser, repoRoot } from '../support/browser.js';
import { login, pageOpener } from './pages.js';

const KEY = 'console-inspect-key-0123456789abcdef';
const ADMIN_KEY = 'console-inspect-admin-0123456789abcdef';
const shots = fileURLToPath(new URL('../../.strand-test/console/', import.meta.url));
const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const dirs: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
let browser: Browser;

beforeAll(async () => {
  ensureConsoleBuilt();
  mkdirSync(shots, { recursive: true });
  // On a machine without Chromium this installs Debian's package first (a minute or two).
  browser = await launchBrowser();
}, 900_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await browser?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Starts `strand <args>` (serve with --json) and resolves with its URL once it listens; stopped with SIGTERM after the tests. */
async function strandServe(args: readonly string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then((code) => reject(new Error(`strand serve exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, child };
}

const open = pageOpener(() => browser);

/** The README's screenshot, written only when asked (it is committed; a test run leaves it alone). */
async function readmeShot(page: Page, name: string): Promise<void> {
  if (process.env.STRAND_README_SCREENSHOTS !== '1') return;
  mkdirSync(join(repoRoot(), 'docs', 'images'), { recursive: true });
  await page.screenshot({ path: join(repoRoot(), 'docs', 'images', name) });
}

const attr = (page: Page, selector: string, name: string) => page.$$eval(selector, (l, n) => l.map((e) => e.getAttribute(n)), name);

describe('strand serve --demo: snapshots, bindings, store size', () => {
  let url: string;
  let dir: string;
  let client: StrandClient;
  beforeAll(async () => {
    dir = tempDir('strand-console-demo-');
    ({ url } = await strandServe(['--path', dir, '--json', 'serve', '--port', '0', '--demo'], { STRAND_API_KEY: KEY }));
    client = connect({ url, apiKey: KEY });
    cleanups.push(() => client.close());
  });

  it("lists the aggregate snapshots below a prefix and shows one's version, size and state; the stream links to it", async () => {
    const listed = await client.snapshots().list();
    const skus = ['sku-anvil', 'sku-kettle', 'sku-lamp', 'sku-map', 'sku-rope', 'sku-tent'];
    expect(listed.snapshots.map((s) => s.stream)).toEqual(skus.map((s) => `shop/inventory/${s}`));
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Snapshots');
    await page.waitForSelector('li[data-snapshot="shop/inventory/sku-tent"]');
    expect(await attr(page, 'li[data-snapshot]', 'data-snapshot')).toEqual(listed.snapshots.map((s) => s.stream));
    await page.fill('#snapshot-prefix', 'shop/orders');
    await page.waitForSelector('p.muted:text("No snapshots below shop/orders")');
    await page.fill('#snapshot-prefix', 'shop/inventory');
    await page.waitForSelector('li[data-snapshot="shop/inventory/sku-lamp"]');
    await page.click('li[data-snapshot="shop/inventory/sku-lamp"] a');

    // What the page shows is what the server stored, and the state is the fold of the stream.
    const lamp = (await client.snapshots().get('shop/inventory/sku-lamp'))!;
    const events = await collect(client.readStream('shop/inventory/sku-lamp'));
    const reserved = events.filter((e) => e.type === 'StockReserved').reduce((n, e) => n + (e.data as { quantity: number }).quantity, 0);
    expect(lamp.version).toBe(events.length);
    expect(lamp.state).toEqual({ sku: 'sku-lamp', onHand: 500, reserved, orders: events.length - 1 });
    await page.waitForSelector(`[data-field=snapshot-version]:text("${lamp.version}")`);
    expect(await page.textContent('[data-field=aggregate]')).toBe('inventory');
    expect(await page.textContent('[data-field=size]')).toBe(`${lamp.bytes} B`);
    expect((await page.textContent('[data-field=stream-version]'))!.startsWith(String(events.length))).toBe(true);
    expect(JSON.parse((await page.textContent('pre[data-field=state]'))!)).toEqual(lamp.state);
    await page.screenshot({ path: join(shots, 'snapshots.png') });

    await page.click('a:text("Events of shop/inventory/sku-lamp")');
    const link = await page.waitForSelector('dd[data-field=snapshot] a');
    expect(await link.textContent()).toBe(`version ${lamp.version} (${lamp.bytes} B)`);
    await link.click();
    await page.waitForSelector('h2.stream-name:text("shop/inventory/sku-lamp")');
    expect(page.url()).toMatch(/#\/snapshots\/shop\/inventory\/sku-lamp$/);
    // A stream without a snapshot says so.
    await page.goto(`${url}/ui/#/streams/shop/customers/c-2`);
    await page.waitForSelector('dd[data-field=snapshot]:text("none")');
    expect(errors).toEqual([]);
  });

  it('shows the schema bindings: which stream patterns accept which types', async () => {
    const schemas = await client.schemas();
    await schemas.register('ReturnRequested', 1, z.object({ order: z.string() }));
    await schemas.register('ReturnApproved', 1, z.object({ order: z.string(), by: z.string() }));
    await schemas.bind('returns/>', ['ReturnRequested', 'ReturnApproved']);
    await schemas.bind('audit/*', ['ReturnApproved']);
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Schemas');
    await page.waitForSelector('tr[data-binding="returns/>"]');
    expect(await attr(page, 'tr[data-binding]', 'data-binding')).toEqual(['audit/*', 'returns/>']);
    expect(await page.$$eval('tr[data-binding="returns/>"] td.type code', (l) => l.map((c) => c.textContent))).toEqual(['ReturnRequested', 'ReturnApproved']);
    expect(await page.$$eval('tr[data-binding="audit/*"] td.type code', (l) => l.map((c) => c.textContent))).toEqual(['ReturnApproved']);
    await page.screenshot({ path: join(shots, 'schema-bindings.png') });
    expect(errors).toEqual([]);
  });

  it("shows the store's size on disk in the overview", async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.click('nav >> text=Overview');
    const card = await page.waitForSelector('[data-field=store-size][data-bytes]');
    const shown = Number(await card.getAttribute('data-bytes'));
    const onDisk = await dirSize(dir);
    // The demo appends while we look, and LevelDB compacts: the same order of size, not the same bytes.
    expect(shown).toBeGreaterThan(onDisk / 2);
    expect(shown).toBeLessThan(onDisk * 2);
    expect(await page.textContent('[data-field=store-size-kind]')).toBe('files on disk');
    await page.waitForSelector('[data-field=server-version]:text("0.1.0")');
    await page.screenshot({ path: join(shots, 'overview-store-size.png') });
    expect(errors).toEqual([]);
  });

  it("offers the log's key (every permission) a form that appends to the stream shown", async () => {
    const { page, errors } = await open(url);
    await login(page, KEY);
    await page.waitForSelector('[data-field=whoami]:text("default · default")');
    await page.goto(`${url}/ui/#/streams/shop/customers/c-3`);
    await page.waitForSelector('tr.event[data-version="1"]');
    await page.fill('#append-type', 'CustomerRenamed');
    await page.fill('#append-data', '{"name": "Grace"}');
    await page.click('form.append button[type=submit]');
    await page.waitForSelector('tr.event[data-version="2"]');
    const [, renamed] = await collect(client.readStream('shop/customers/c-3'));
    expect(renamed).toMatchObject({ type: 'CustomerRenamed', data: { name: 'Grace' } });
    await page.fill('#append-data', '{not json');
    await page.click('form.append button[type=submit]');
    await page.waitForSelector('form.append [role=alert]:has-text("STRAND_INVALID_ARGUMENT")');
    expect(await collect(client.readStream('shop/customers/c-3'))).toHaveLength(2);

    // The README's picture: a stream of the demo shop with an event open.
    await page.click('button[aria-label="Expand shop"]');
    await page.click('button[aria-label="Expand shop/orders"]');
    await page.click('button[aria-label="Expand shop/orders/eu"]');
    const first = await page.waitForSelector('li[data-name^="shop/orders/eu/"] a');
    await first.click();
    await page.waitForSelector('tr.event button');
    await page.click('tr.event >> nth=0 >> button');
    await page.waitForSelector('pre[data-field=data]');
    await readmeShot(page, 'console-streams.png');
    expect(errors).toEqual([]);
  });
});

describe('strand serve --tenants: metering over time, store size and the append form by grant', () => {
  let url: string;
  let admin: StrandAdmin;
  const keys = { reader: '', writer: '' };
  const ids = { reader: '' };
  let writer: StrandClient;
  beforeAll(async () => {
    const dir = tempDir('strand-console-tenants-');
    ({ url } = await strandServe(['--path', dir, '--json', 'serve', '--port', '0', '--tenants'], { STRAND_ADMIN_KEY: ADMIN_KEY }));
    admin = connectAdmin({ url, adminKey: ADMIN_KEY });
    cleanups.push(() => admin.close());
    await admin.createTenant('acme');
    const r = await admin.createPrincipal('acme', (['read', 'subscribe'] as const).map((permission) => ({ permission, pattern: '>' })), 'reader');
    keys.reader = r.apiKey;
    ids.reader = r.id;
    keys.writer = (await admin.createPrincipal('acme', (['read', 'append', 'subscribe'] as const).map((permission) => ({ permission, pattern: '>' })), 'writer')).apiKey;
    writer = connect({ url, apiKey: keys.writer });
    cleanups.push(() => writer.close());
    await writer.append('orders/o-1', [{ type: 'OrderPlaced', data: { total: 5 } }]);
  });

  it("a read-only key is not offered the append form; its overview shows its tenant's stored bytes", async () => {
    const { page, errors } = await open(url);
    await login(page, keys.reader);
    // Its grants are known (WhoAmI) before we look for what they hide.
    await page.waitForSelector(`[data-field=whoami]:text("acme · ${ids.reader}")`);
    await page.goto(`${url}/ui/#/streams/orders/o-1`);
    await page.waitForSelector('tr.event[data-version="1"]');
    expect(await page.$('form.append')).toBeNull();
    await page.screenshot({ path: join(shots, 'read-only-stream.png') });

    await page.click('nav >> text=Overview');
    const card = await page.waitForSelector('[data-field=store-size][data-bytes]');
    expect(Number(await card.getAttribute('data-bytes'))).toBe((await admin.usage('acme')).storageBytes);
    expect(await page.textContent('[data-field=store-size-kind]')).toBe("this tenant's stored event bytes");
    // A tenant's key may not read the server's metrics: the browser logs that 401 (asked once).
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });

  it('a key that may append is offered the form, and its append lands', async () => {
    const { page, errors } = await open(url);
    await login(page, keys.writer);
    await page.goto(`${url}/ui/#/streams/orders/o-1`);
    await page.waitForSelector('form.append');
    await page.fill('#append-type', 'OrderPaid');
    await page.fill('#append-data', '{"method": "card"}');
    await page.click('form.append button[type=submit]');
    await page.waitForSelector('tr.event[data-version="2"]');
    expect((await collect(writer.readStream('orders/o-1')))[1]).toMatchObject({ type: 'OrderPaid', data: { method: 'card' } });
    expect(errors).toEqual([]);
  });

  it("charts a tenant's metering over the last minutes: appends made during the test show as a rate and in the stored bytes", async () => {
    const { page, errors } = await open(url);
    await login(page, ADMIN_KEY);
    await page.click('tr[data-tenant=acme] >> button:text("acme")');
    const before = await admin.usage('acme');
    await page.waitForSelector(`[data-field=events-appended]:text("${before.eventsAppended} in all")`);
    for (let i = 0; i < 30; i++) await writer.append(`orders/m-${i}`, [{ type: 'OrderPlaced', data: { total: i, note: 'metered' } }]);
    const after = await admin.usage('acme');
    expect(after.eventsAppended).toBe(before.eventsAppended + 30);
    await page.waitForSelector(`[data-field=events-appended]:text("${after.eventsAppended} in all")`);
    await page.waitForSelector(`[data-field=storage][data-bytes="${after.storageBytes}"]`);
    // The appends show as a rise in the append-rate chart: some sample above zero.
    const points = (await page.getAttribute('.meters svg[aria-label^="Events appended"] polyline', 'points'))!.split(' ');
    expect(points.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...points.map((p) => Number(p.split(',')[1])))).toBeLessThan(47);
    await page.screenshot({ path: join(shots, 'tenant-metering.png') });
    // Signing in with the admin key first tries it as a data key: the browser logs that 401.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});

describe('projection actions by grant (an embedded tenant server hosting a projection)', () => {
  let url: string;
  let runner: ProjectionRunner;
  const keys = { reader: '', operator: '' };
  let broken = true;
  beforeAll(async () => {
    const tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await tenants.createTenant('acme');
    const log = (await tenants.tenant('acme')).log;
    const fragile = defineProjection({
      name: 'fragile',
      patterns: ['acc/>'],
      handlers: {
        T: (e, tx) => {
          if (broken) throw new Error('boom: the handler failed');
          return tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1);
        },
      },
    });
    runner = new ProjectionRunner(log, fragile, { attempts: 1 });
    await runner.start();
    keys.reader = (await tenants.createPrincipal('acme', (['read', 'subscribe'] as const).map((permission) => ({ permission, pattern: '>' })))).apiKey;
    keys.operator = (await tenants.createPrincipal('acme', (['read', 'admin'] as const).map((permission) => ({ permission, pattern: '>' })))).apiKey;
    const server = createServer({ tenants, projections: (t) => (t === 'acme' ? [runner] : undefined), routes: { '/ui': serveConsole() } });
    url = await server.listen();
    cleanups.push(async () => {
      await server.close();
      await runner.stop();
      await tenants.close();
    });
    await log.append('acc/bad-1', [{ type: 'T', data: 1 }]);
  });

  it('a read-only key sees the parked stream but no retry, skip or rebuild; a key with admin gets them and they work', async () => {
    const reader = await open(url);
    await login(reader.page, keys.reader);
    await reader.page.waitForSelector('[data-field=whoami]');
    await reader.page.click('nav >> text=Projections');
    await reader.page.waitForSelector('tr[data-parked="acc/bad-1"]');
    await reader.page.waitForSelector('[data-field=read-only]');
    expect(await reader.page.$$('section[data-projection=fragile] button')).toHaveLength(0);
    await reader.page.screenshot({ path: join(shots, 'projections-read-only.png') });
    expect(reader.errors).toEqual([]);

    const operator = await open(url);
    await login(operator.page, keys.operator);
    await operator.page.click('nav >> text=Projections');
    await operator.page.waitForSelector('tr[data-parked="acc/bad-1"] >> button:text("Skip")');
    expect(await operator.page.$$eval('section[data-projection=fragile] button', (l) => l.map((b) => b.textContent))).toEqual(['Retry', 'Skip', 'Rebuild…']);
    expect(await operator.page.$('[data-field=read-only]')).toBeNull();
    broken = false;
    await operator.page.click('tr[data-parked="acc/bad-1"] >> button:text("Retry")');
    await operator.page.waitForSelector('tr[data-parked="acc/bad-1"]', { state: 'detached' });
    expect(await runner.view().get('n', 'acc/bad-1')).toBe(1);
    expect(operator.errors).toEqual([]);
  });
});
