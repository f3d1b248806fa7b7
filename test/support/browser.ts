/**
 * A real browser for the console's tests and bench: Debian's headless Chromium (installed by
 * `scripts/browser/ensure-chromium.sh` when missing, as the RGW script installs Ceph) driven by
 * playwright-core. Also makes sure the console's UI is built (`vite build`) before it is served.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleAssetsDir } from '@strand/console';
import { type Browser, chromium } from 'playwright-core';

/** The repository's root: the first directory above this module with scripts/browser (from src or from test/dist). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'browser', 'ensure-chromium.sh'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repoRoot: scripts/browser/ensure-chromium.sh not found above this module');
    dir = up;
  }
  return dir;
}

const root = repoRoot();

let path: string | undefined;

/** The path of a Chromium binary; installs Debian's package first when there is none. */
export function chromiumPath(): string {
  path ??= execFileSync('bash', [join(root, 'scripts/browser/ensure-chromium.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 }).trim();
  return path;
}

/** Launches headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Builds the console's UI when it was not built yet (`npm run build` builds it too). */
export function ensureConsoleBuilt(): string {
  const dir = consoleAssetsDir();
  if (!existsSync(join(dir, 'index.html'))) {
    execFileSync('npm', ['run', 'build:ui', '-w', '@strand/console'], { cwd: root, stdio: 'inherit', timeout: 300_000 });
  }
  return dir;
}
