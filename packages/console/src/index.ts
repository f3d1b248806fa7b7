/**
 * `@strand/console`: the Strand Console, a small web UI (streams, live tail, overview) that a
 * Strand server serves at `/ui`. The UI is a static single-page app built by Vite into
 * `dist/ui/`; it talks only to the server's public API (ConnectRPC and the SSE tail).
 * This module is the server side: {@link serveConsole} is a route handler for
 * `createServer({ routes: { '/ui': serveConsole() } })`. Design: docs/design/0014-console.md.
 *
 * @packageDocumentation
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** A request as the server's route hooks see it (HTTP/1.1 or HTTP/2). */
export type ConsoleRequest = IncomingMessage | Http2ServerRequest;
/** A response as the server's route hooks see it. */
export type ConsoleResponse = ServerResponse | Http2ServerResponse;

/** Options of {@link serveConsole}. */
export interface ConsoleOptions {
  /** Path prefix the handler is mounted at. Default `/ui`. */
  prefix?: string;
  /** Directory of the built UI. Default: this package's `dist/ui` (built by `npm run build`). */
  assetsDir?: string;
}

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  map: 'application/json',
};

/**
 * The console's Content-Security-Policy: everything from the server itself, nothing from
 * elsewhere (no CDN, no external font), no inline script.
 */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The directory the built UI is in by default (`dist/ui` of this package). */
export function consoleAssetsDir(): string {
  // Both src/index.ts (tests) and dist/index.js sit one level below the package root.
  return fileURLToPath(new URL('../dist/ui/', import.meta.url));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

function loadAssets(dir: string): Map<string, Asset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  for (const path of walk(dir)) {
    const rel = relative(dir, path).split(sep).join('/');
    const ext = rel.slice(rel.lastIndexOf('.') + 1).toLowerCase();
    const body = readFileSync(path);
    const type = TYPES[ext] ?? 'application/octet-stream';
    const compressible = type.startsWith('text/') || type.includes('json') || type.includes('svg');
    const gzip = compressible && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    // Vite names what it builds under assets/ by content hash: such a file never changes.
    assets.set(rel, { body, gzip, type, etag, immutable: rel.startsWith('assets/') });
  }
  return assets;
}

function send(res: ConsoleResponse, status: number, headers: Record<string, string>, body?: Buffer | string): void {
  (res as ServerResponse).writeHead(status, headers);
  if (body === undefined) res.end();
  else res.end(body);
}

/**
 * A route handler that serves the built console: `index.html` for the prefix itself (with
 * `Cache-Control: no-cache`, so a new build is picked up at once), the hashed files under
 * `assets/` as `immutable` for a year, gzip when the browser accepts it, ETags, and a strict
 * Content-Security-Policy. Only files present in the build are served (no path is ever joined
 * from the request). When the UI was not built the handler answers 503 saying how to build it.
 *
 * @example
 * ```ts
 * const server = createServer({ log, routes: { '/ui': serveConsole() } });
 * ```
 */
export function serveConsole(options: ConsoleOptions = {}): (req: ConsoleRequest, res: ConsoleResponse) => void {
  const prefix = options.prefix ?? '/ui';
  const dir = options.assetsDir ?? consoleAssetsDir();
  let assets: Map<string, Asset> | undefined;
  return (req, res) => {
    assets ??= loadAssets(dir);
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const common = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { ...common, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, 'method not allowed\n');
    }
    if (path === prefix) {
      // Relative asset URLs need the trailing slash.
      const query = url.slice(path.length);
      return send(res, 308, { ...common, location: `${prefix}/${query}`, 'cache-control': 'no-cache' });
    }
    if (assets === undefined) {
      return send(res, 503, { ...common, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, 'The Strand Console is not built: run `npm run build` (it runs `vite build` in packages/console).\n');
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(prefix.length + 1));
    } catch {
      rel = '\0';
    }
    if (rel === '') rel = 'index.html';
    const asset = assets.get(rel);
    if (asset === undefined) {
      return send(res, 404, { ...common, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, 'not found\n');
    }
    const headers: Record<string, string> = {
      ...common,
      'content-type': asset.type,
      etag: asset.etag,
      vary: 'accept-encoding',
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (asset.type.startsWith('text/html')) {
      headers['content-security-policy'] = CONSOLE_CSP;
      headers['x-frame-options'] = 'DENY';
    }
    if (req.headers['if-none-match'] === asset.etag) return send(res, 304, headers);
    const gzip = asset.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip! : asset.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    send(res, 200, headers, req.method === 'HEAD' ? undefined : body);
  };
}
