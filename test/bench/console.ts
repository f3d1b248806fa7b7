/**
 * Bench section `console`: the web console's size and first load.
 * - `console.bundle_kb`: gzip (level 9) of the built JS and CSS the console's index.html loads,
 *   beside a minimal Preact app (one `render` of a paragraph) built by the same Vite in this run:
 *   what the framework alone costs.
 * - `console.first_load_ms`: a fresh browser context (cold cache) navigating to `/ui/` with the key
 *   in sessionStorage until the stream tree shows its first entry, in Debian's headless Chromium
 *   over loopback; beside the same browser loading the server's `/healthz` (a blank page over the
 *   same connection path) in the same run.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serveConsole } from '@strand/console';
import { openLog } from '@strand/core';
import { createServer } from '@strand/server';
import { ensureConsoleBuilt, launchBrowser, repoRoot } from '../support/browser.js';
import { type BenchSection, type Figure, median, round, timeMs } from './figure.js';

const root = repoRoot();
const KEY = 'bench-console-key-0123456789abcdef';

/** gzip -9 bytes of the JS and CSS an index.html in `dir` references. */
function gzipOfPage(dir: string): number {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  let total = 0;
  for (const m of html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+\.(?:js|css))"/g)) {
    total += gzipSync(readFileSync(join(dir, m[1]!)), { level: 9 }).length;
  }
  return total;
}

/** Builds a one-paragraph Preact app with the same Vite; returns its directory. */
function buildPreactReference(): string {
  const src = join(root, '.strand-test', 'bench-console-preact');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'index.html'), '<!doctype html><html lang="en"><head><title>ref</title></head><body><div id="app"></div><script type="module" src="./main.js"></script></body></html>\n');
  writeFileSync(join(src, 'main.js'), "import { h, render } from 'preact';\nrender(h('p', null, 'hello'), document.getElementById('app'));\n");
  execFileSync(join(root, 'node_modules', '.bin', 'vite'), ['build', src, '--base', './', '--outDir', join(src, 'dist'), '--logLevel', 'silent'], { cwd: root, stdio: 'inherit', timeout: 300_000 });
  return join(src, 'dist');
}

/** The console section. */
export const consoleSection: BenchSection = {
  name: 'console',
  async run(ctx) {
    const figures: Figure[] = [];
    const ui = ensureConsoleBuilt();
    const bundle = gzipOfPage(ui);
    const reference = buildPreactReference();
    const preact = gzipOfPage(reference);
    // Built under the repository (so `preact` resolves from its node_modules); not left for the linter.
    rmSync(dirname(reference), { recursive: true, force: true });
    figures.push({
      id: 'console.bundle_kb',
      value: round(bundle / 1024),
      unit: 'KiB gzip',
      reference: { name: 'a one-paragraph Preact app, same Vite build', value: round(preact / 1024) },
      note: 'JS + CSS of the built console (dist/ui), gzip -9; most of it is the protobuf runtime and service descriptors',
    });

    const log = await openLog({ path: await ctx.tmpdir('console') });
    for (let i = 0; i < 20; i++) await log.append(`orders/eu/o-${i}`, [{ type: 'OrderPlaced', data: { total: i } }]);
    const server = createServer({ log, apiKeys: KEY, routes: { '/ui': serveConsole() } });
    const url = await server.listen();
    const browser = await launchBrowser();
    try {
      const load = async (target: string, until: string | undefined) => {
        const context = await browser.newContext();
        await context.addInitScript(`sessionStorage.setItem('strand.console.apiKey', ${JSON.stringify(KEY)})`);
        const page = await context.newPage();
        try {
          return await timeMs(async () => {
            await page.goto(target, { waitUntil: until === undefined ? 'load' : 'commit' });
            if (until !== undefined) await page.waitForSelector(until);
          });
        } finally {
          await context.close();
        }
      };
      // One of each first: Chromium's own start-up work is not the console's.
      await load(`${url}/healthz`, undefined);
      await load(`${url}/ui/`, 'li[data-name="orders"]');
      const runs = Math.max(5, ctx.runs);
      const blank: number[] = [];
      const consoleLoad: number[] = [];
      for (let i = 0; i < runs; i++) {
        blank.push(await load(`${url}/healthz`, undefined));
        consoleLoad.push(await load(`${url}/ui/`, 'li[data-name="orders"]'));
      }
      figures.push({
        id: 'console.first_load_ms',
        value: round(median(consoleLoad)),
        unit: 'ms',
        reference: { name: 'the same browser loading /healthz (a blank page) from the same server', value: round(median(blank)) },
        note: `cold cache, navigation until the stream tree's first entry; median of ${runs}`,
      });
    } finally {
      await browser.close();
      await server.close();
      await log.close();
    }
    return figures;
  },
};
