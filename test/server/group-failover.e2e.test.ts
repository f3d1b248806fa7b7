/**
 * Coordinator failover: the group's coordinator is a `strand serve` process; a second one waits
 * for the log's lock on the same path and port. The first is SIGKILLed while members work; the
 * second takes over from the durable checkpoint, the members (remote, through the client) finish
 * what they held and join it. Every stream completes in order, each effect exactly once, and no
 * stream ever runs on two members at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type RemoteDelivery } from '@strand/client';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from './harness.js';

const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const API_KEY = 'failover-e2e-key-0123456789abcdef';
afterAll(cleanup);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Starts `strand serve`; `ready` resolves with its URL once it listens (after it got the log's lock). */
function serve(path: string, port: number): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, [bin, '--path', path, '--json', '--lock-timeout', '120000', 'serve', '--port', String(port), '--group-session-timeout', '4000', '--group-backoff', '10'], {
    env: { ...process.env, STRAND_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.on('exit', (code, signal) => reject(new Error(`strand serve exited (${code}, ${signal}): ${stderr}`)));
  });
  ready.catch(() => undefined);
  return { child, ready };
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('consumer group coordinator failover', () => {
  it('a SIGKILLed coordinator is replaced by a standby; streams complete in order, effects once, never on two members at once', async () => {
    const path = tempDir();
    const port = await freePort();
    const first = serve(path, port);
    const url = await first.ready;
    // The standby waits for the log's lock (LevelDB: one process at a time).
    const standby = serve(path, port);
    const reconnect = { initialDelayMs: 20, maxDelayMs: 200 };
    const writer = connect({ url, apiKey: API_KEY, callRetries: 1000, reconnect });
    const clients = [connect({ url, apiKey: API_KEY, reconnect }), connect({ url, apiKey: API_KEY, reconnect })];
    const children: ChildProcess[] = [first.child, standby.child];
    try {
      const streams = 16;
      const perStream = 12;
      for (let v = 1; v <= perStream; v++) {
        await writer.appendMulti(Array.from({ length: streams }, (_, s) => ({ stream: `jobs/s-${s}`, events: [{ type: 'Job', data: { v }, id: `job-${s}-${v}` }] })));
      }
      const running = new Map<string, string>();
      const last = new Map<string, number>();
      const violations: string[] = [];
      const joins: string[] = [];
      let handled = 0;
      let slowRunning = 0;
      const rejoined = new Set<string>();
      let killed = false;
      let afterKill = 0;
      const handler = (label: string) => async (d: RemoteDelivery) => {
        const other = running.get(d.stream);
        if (other !== undefined) violations.push(`${d.stream} v${d.events[0]!.version} on ${label} while on ${other}`);
        running.set(d.stream, label);
        try {
          const v = d.events[0]!.version;
          // At least once: after a failover a stream resumes at its last durable ack + 1, never past it.
          const prev = last.get(d.stream) ?? 0;
          if (v > prev + 1) violations.push(`${d.stream}: v${v} after v${prev}`);
          // Some deliveries are slow: one is running when the coordinator dies, and it keeps running
          // until the other member has joined the new coordinator and 1.5 s more (within the session
          // timeout): the new coordinator must not hand its stream to the other member meanwhile.
          const slow = !killed && slowRunning === 0 && v === 6 && Number(d.stream.slice(7)) % 4 === 0;
          if (slow) {
            slowRunning++;
            await until(() => killed && rejoined.has(label === 'm0' ? 'm1' : 'm0'), 'the other member to rejoin');
            await new Promise((resolve) => setTimeout(resolve, 1500));
            slowRunning--;
          } else await new Promise((resolve) => setTimeout(resolve, 3));
          last.set(d.stream, v);
          handled++;
          if (killed) afterKill++;
          return { appends: [{ stream: `done/${d.stream.slice(5)}`, events: [{ type: 'Done', data: { v }, id: `done-${d.stream}-${v}-${d.epoch}` }] }] };
        } finally {
          running.delete(d.stream);
        }
      };
      await Promise.all(clients.map((c, i) => c.joinGroup('jobs', handler(`m${i}`), { pattern: 'jobs/>', credits: 4, onJoin: (id) => {
        joins.push(`m${i}:${id}`);
        if (killed) rejoined.add(`m${i}`);
      } })));
      await until(() => handled >= 20 && slowRunning > 0, 'work before the kill, with a slow delivery running');
      first.child.kill('SIGKILL');
      killed = true;
      const handledAtKill = handled;
      await standby.ready;
      await until(async () => {
        for (let s = 0; s < streams; s++) if ((await writer.streamInfo(`done/s-${s}`))?.version !== perStream) return false;
        return true;
      }, 'every stream done after the failover');
      expect(handledAtKill).toBeLessThan(streams * perStream);
      expect(afterKill).toBeGreaterThan(0);
      // Both members joined the new coordinator (a new member id each, of a new incarnation).
      expect(joins.filter((j) => j.startsWith('m0')).length).toBeGreaterThanOrEqual(2);
      expect(joins.filter((j) => j.startsWith('m1')).length).toBeGreaterThanOrEqual(2);
      // Effects: each event's exactly once and in order, across the failover.
      for (let s = 0; s < streams; s++) {
        const vs: number[] = [];
        for await (const e of writer.readStream(`done/s-${s}`)) vs.push((e.data as { v: number }).v);
        expect(vs, `done/s-${s}`).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
      }
      expect(violations).toEqual([]);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      for (const c of [writer, ...clients]) await c.close();
    }
  });
});
