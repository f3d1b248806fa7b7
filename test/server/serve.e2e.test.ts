/**
 * `strand serve` as a real process: TLS with a generated certificate, SIGTERM (graceful: every
 * acknowledged append durable), and SIGKILL under remote load (clients reconnect, no acknowledged
 * append lost, the subscription resumes without gap or duplicate).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from '@strand/client';
import { isStrandError, openLog, type RecordedEvent } from '@strand/core';
import { collect } from '@strand/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from './harness.js';

const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const API_KEY = 'serve-e2e-key-0123456789abcdef';
afterAll(cleanup);

interface Served {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(path: string, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [bin, '--path', path, '--json', 'serve', '--port', '0', ...args], {
    env: { ...process.env, STRAND_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, url: (JSON.parse(line) as { url: string }).url, exited }));
    void exited.then((e) => reject(new Error(`strand serve exited (${e.code}, ${e.signal}): ${stderr}`)));
  });
}

/** Appends `seq` events one per call, as fast as acknowledged; records each acknowledged one. */
function writer(url: string, stop: () => boolean, ca?: Buffer) {
  const client = connect({ url, apiKey: API_KEY, ...(ca ? { ca } : {}), callRetries: 100, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  const acked: number[] = [];
  const run = (async () => {
    for (let seq = 0; !stop(); seq++) {
      // Each append keeps its id across the client's own retries, so a retry never writes twice.
      for (;;) {
        try {
          await client.append(`load/${seq % 7}`, [{ type: 'Seq', data: { seq }, id: `seq-${seq}` }]);
          acked.push(seq);
          break;
        } catch (error) {
          if (!isStrandError(error, 'STRAND_SERVER_UNAVAILABLE') || stop()) return;
        }
      }
    }
  })();
  return { client, acked, run };
}

describe('strand serve (child process)', () => {
  it('serves TLS with the given certificate and shuts down gracefully on SIGTERM', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
    const path = join(dir, 'log');
    const s = await serve(path, '--tls-cert', cert, '--tls-key', key);
    expect(s.url).toMatch(/^https:/);
    const ca = readFileSync(cert);
    let stopped = false;
    const w = writer(s.url, () => stopped, ca);
    const c = connect({ url: s.url, apiKey: API_KEY, ca });
    const first = await c.append('tls/a', [{ type: 'T', data: 1 }]);
    expect(first.version).toBe(1);
    // Plain HTTP/1.1 over TLS (ALPN) answers too.
    const health = await fetch(`${s.url}/readyz`).catch((e: unknown) => e);
    expect(health).toBeInstanceOf(Error); // fetch does not trust the self-signed certificate: TLS is really on
    while (w.acked.length < 20) await new Promise((r) => setImmediate(r));
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    stopped = true;
    await w.run;
    await w.client.close();
    await c.close();
    const log = await openLog({ path });
    try {
      const seqs = new Set((await collect(log.readAll({ pattern: 'load/>' }))).map((e) => (e.data as { seq: number }).seq));
      for (const seq of w.acked) expect(seqs.has(seq), `acknowledged append ${seq}`).toBe(true);
    } finally {
      await log.close();
    }
  });

  it('shuts down on SIGTERM with 1,000 idle subscriptions open', async () => {
    const s = await serve(join(tempDir(), 'log'));
    // Two connections (the per-connection limit is 1,000 streams), 500 idle subscriptions each.
    const clients = [0, 1].map(() => connect({ url: s.url, apiKey: API_KEY }));
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const pending = Array.from({ length: 1000 }, (_, i) =>
      clients[i % 2]!.follow(`idle/s-${i}`, { from: 'end', signal: abort.signal })[Symbol.asyncIterator]()
        .next()
        .then(
          (r) => (r.done ? 'done' : 'event'),
          (e: unknown) => (e as { code?: string }).code ?? 'error',
        ),
    );
    // A busy client can leave its keep-alive connection idle past the server's keep-alive
    // timeout; a request that meets the closing socket is simply asked again.
    const open = async () => {
      try {
        const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
        return Number(/strand_server_subscriptions_open (\d+)/.exec(await res.text())?.[1] ?? 0);
      } catch {
        return 0;
      }
    };
    while ((await open()) < 1000) await new Promise((r) => setTimeout(r, 200));
    s.child.kill('SIGTERM');
    // The server ends every subscription (with a resume cursor), finishes and exits by itself.
    expect(await s.exited).toEqual({ code: 0, signal: null });
    // The clients keep trying to resume until told to stop; then every follow ends.
    abort.abort();
    expect(new Set(await Promise.all(pending))).toEqual(new Set(['done']));
    for (const c of clients) await c.close();
    // Opening 1,000 subscriptions takes close to a minute on a loaded 2-core machine.
  }, 300_000);

  it('loses no acknowledged append and resumes subscriptions without gap or duplicate across SIGKILL', async () => {
    const path = join(tempDir(), 'log');
    let s = await serve(path);
    const port = new URL(s.url).port;
    let stopped = false;
    const w = writer(s.url, () => stopped);
    const sub = connect({ url: s.url, apiKey: API_KEY, heartbeatMs: 300, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const seen: RecordedEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const e of sub.follow('load/>', { from: 1, signal: abort.signal })) seen.push(e);
    })();
    const rounds = Math.min(3, Number(process.env.STRAND_CRASH_ROUNDS ?? 2));
    for (let round = 0; round < rounds; round++) {
      const target = w.acked.length + 30;
      while (w.acked.length < target) await new Promise((r) => setTimeout(r, 5));
      s.child.kill('SIGKILL');
      await s.exited;
      s = await serve(path, '--port', port);
    }
    const target = w.acked.length + 30;
    while (w.acked.length < target) await new Promise((r) => setTimeout(r, 5));
    stopped = true;
    await w.run;
    const log = connect({ url: s.url, apiKey: API_KEY });
    const all = await collect(log.readAll({ pattern: 'load/>' }));
    // Every acknowledged append is there, once.
    const seqs = all.map((e) => (e.data as { seq: number }).seq);
    for (const seq of w.acked) expect(seqs.includes(seq), `acknowledged append ${seq}`).toBe(true);
    expect(new Set(seqs).size).toBe(seqs.length);
    // The subscription delivered the whole log in order, each event once.
    const head = all.at(-1)!.position;
    while (seen.length === 0 || seen.at(-1)!.position < head) await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    await following;
    expect(seen.map((e) => e.position)).toEqual(all.map((e) => e.position));
    await log.close();
    await sub.close();
    await w.client.close();
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  });
});
