/**
 * The CLI against a running `strand serve` (`--server URL`, key in STRAND_API_KEY): append,
 * read, streams, info, tail and hosted projections (status, parked, retry, skip) behave and exit
 * as they do on a local log, through the client, over loopback, with both sides real processes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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
});
