/**
 * The CLI against a running `strand serve` (`--server URL`, key in STRAND_API_KEY): append,
 * read, streams (with the stream counts below each entry), info, tail and hosted projections
 * (status, parked, retry, skip, rebuild with its progress bar) behave and exit as they do on a
 * local log, through the client, over loopback, with both sides real processes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from '@strand/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from './harness.js';

const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const module = fileURLToPath(new URL('../cli/fixtures/totals.mjs', import.meta.url));
const API_KEY = 'cli-remote-key-0123456789abcdef';
let child: ChildProcess;
let url: string;

beforeAll(async () => {
  child = spawn(process.execPath, [bin, '--path', tempDir(), '--json', 'serve', '--port', '0', '--projections', module], {
    env: { ...process.env, STRAND_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`strand serve exited with ${code}`)));
  });
});
afterAll(async () => {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  cleanup();
});

function strand(args: string[], apiKey = API_KEY): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // --path points nowhere: every command must go to the server.
    execFile(process.execPath, [bin, '--path', '/nonexistent/strand', '--server', url, ...args], { env: { ...process.env, STRAND_API_KEY: apiKey, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

// Each CLI start costs seconds on a loaded machine: one invocation per behaviour.
describe('strand --server', () => {
  it('appends, reads, tails, lists hosted projections and exits as on a local log', async () => {
    const a = await strand(['--json', 'append', 'orders/eu/o-1', '--type', 'Placed', '--data', '{"total":42}', '--expect', 'no_stream']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ stream: 'orders/eu/o-1', version: 1, position: 1, idempotent: false });
    const conflict = await strand(['append', 'orders/eu/o-1', '--type', 'Placed', '--data', '{}', '--expect', 'no_stream']);
    expect([conflict.code, conflict.stderr.includes('STRAND_WRONG_EXPECTED_VERSION')]).toEqual([2, true]);
    const read = await strand(['--json', 'read', 'orders/eu/o-1']);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toContain('"total":42');
    const tail = await strand(['--json', 'tail', 'orders/>', '--from', 'start', '--count', '1']);
    expect(tail.code, tail.stderr).toBe(0);
    expect((JSON.parse(tail.stdout.trim()) as { stream: string }).stream).toBe('orders/eu/o-1');
    const p = await strand(['--json', 'projections']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('totals');
    expect((await strand(['projections', 'retry', 'totals', 'orders/eu/o-1'])).code).toBe(3);
    const bad = await strand(['info'], 'wrong-key-0123456789abcdef');
    expect([bad.code, bad.stderr.includes('STRAND_UNAUTHENTICATED')]).toEqual([1, true]);
  });

  it('counts the streams below each entry and rebuilds a hosted projection, with a progress bar on a terminal', async () => {
    const client = connect({ url, apiKey: API_KEY });
    try {
      const before = await client.countStreams();
      for (const s of ['shop/eu/o-1', 'shop/eu/o-2', 'shop/us/o-3', 'shop/eu/o-1/notes']) await client.append(s, [{ type: 'Placed', data: {} }]);
      expect(await client.countStreams()).toBe(before + 4);
      expect([await client.countStreams('shop/eu/o-1'), await client.countStreams('shop/eu/o-1', { below: true })]).toEqual([2, 1]);
      const shop = await strand(['--json', 'streams', 'shop']);
      expect(shop.code, shop.stderr).toBe(0);
      expect(JSON.parse(shop.stdout)).toEqual([
        { name: 'shop/eu', stream: false, version: '', below: 3 },
        { name: 'shop/us', stream: false, version: '', below: 1 },
      ]);
      const info = await strand(['--json', 'info']);
      expect(info.code, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout)).toMatchObject({ streams: before + 4, position: await client.headPosition() });

      const generation = (await client.projections().status('totals')).generation;
      const rebuilt = await strand(['--json', 'projections', 'rebuild', 'totals']);
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      const [row] = JSON.parse(rebuilt.stdout) as Array<{ name: string; generation: number; position: number; head: number }>;
      expect(row).toMatchObject({ name: 'totals', generation: generation + 1, position: await client.headPosition() });
      expect((await client.projections().status('totals')).generation).toBe(generation + 1);
      // On a terminal (a pseudo-terminal from script(1)) the same command draws its bar.
      const tty = await new Promise<{ code: number; stdout: string }>((resolve) => {
        const cmd = [process.execPath, bin, '--path', '/nonexistent/strand', '--server', url, 'projections', 'rebuild', 'totals'].map((a) => `'${a}'`).join(' ');
        execFile('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, STRAND_API_KEY: API_KEY } }, (error, stdout) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }));
      });
      expect(tty.code, tty.stdout).toBe(0);
      expect(tty.stdout).toMatch(/rebuild totals \[.*\] \d+% \| \d+\/\d+ \| ETA/);
      expect(tty.stdout).toContain(`rebuilt totals into generation ${generation + 2}`);
      const missing = await strand(['projections', 'rebuild', 'nope']);
      expect([missing.code, missing.stderr.includes('STRAND_PROJECTION_NOT_FOUND')]).toEqual([3, true]);
      const both = await strand(['projections', 'rebuild', 'totals', '--module', module]);
      expect([both.code, both.stderr.includes('no --module')]).toEqual([1, true]);
    } finally {
      await client.close();
    }
  });
});
