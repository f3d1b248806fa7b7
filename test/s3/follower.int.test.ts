import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventLog, isStrandError } from '@strand/core';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, followerStalenessBound, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { describe, expect, it } from 'vitest';

/** What the follower process measured of itself: the terms of its staleness bound. */
interface ChildStats {
  requestMs: number[];
  delayMaxMs: number;
  delayP99Ms: number;
}

const CHILD = fileURLToPath(new URL('./follower-child.ts', import.meta.url));
const POLL_MS = 100;

function writerLevel(env: Awaited<ReturnType<typeof ensureRgw>>, prefix: string): S3Level {
  return new S3Level({ store: rgwStore(env), prefix, flushIntervalMs: 0, keyEncoding: 'view', valueEncoding: 'view' } as never);
}

describe('followers on a real S3 server (Ceph RGW)', () => {
  it('a follower in another process receives every acknowledged event, in order, once, within the documented bound, while the writer is under load', async () => {
    const env = await ensureRgw();
    const prefix = uniquePrefix('follower');
    const writer = await EventLog.open({ ...s3LogDefaults, store: writerLevel(env, prefix), ownsStore: true });
    await writer.append('orders/f/o-0', [{ type: 'Placed', data: { n: 0 } }]);
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'strand-source', CHILD, JSON.stringify(env), prefix, String(POLL_MS)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const seen: { p: number; t: number }[] = [];
    const total = 400;
    const acked = new Map<number, number>();
    let readyResolve: () => void = () => undefined;
    const ready = new Promise<void>((r) => {
      readyResolve = r;
    });
    let allResolve: () => void = () => undefined;
    const all = new Promise<void>((r) => {
      allResolve = r;
    });
    let statsResolve: (s: ChildStats) => void = () => undefined;
    const stats = new Promise<ChildStats>((r) => {
      statsResolve = r;
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return readyResolve();
      if (line.startsWith('{"stats"')) return statsResolve((JSON.parse(line) as { stats: ChildStats }).stats);
      seen.push(JSON.parse(line) as { p: number; t: number });
      if (seen.length >= total + 1) allResolve();
    });
    const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`follower exited (${code}):\n${stderr}`))));
    try {
      await Promise.race([ready, exited]);
      // Load: 16 appenders at once, each recording when its append was acknowledged.
      let next = 1;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = next++; i <= total; i = next++) {
            const r = await writer.append(`orders/f/o-${i % 50}`, [{ type: 'Placed', data: { n: i } }]);
            acked.set(r.position, Date.now());
          }
        }),
      );
      await Promise.race([all, exited]);
      // Every acknowledged position, in order, exactly once (position 1 came before the follower opened).
      expect(seen.map((s) => s.p)).toEqual(Array.from({ length: total + 1 }, (_, i) => i + 1));
      const staleness = [...acked].map(([p, t]) => ({ p, ms: (seen[p - 1]?.t ?? Number.POSITIVE_INFINITY) - t })).sort((a, b) => a.ms - b.ms);
      const at = (q: number) => (staleness[Math.min(staleness.length - 1, Math.ceil(q * staleness.length) - 1)] as { ms: number }).ms;
      // The bound of docs/design/0005 ("Followers"), from the follower's own requests and event-loop
      // delays in this run: max(poll interval, request) + request + 2 x delay.
      child.stdin.write('stats\n');
      const s = await Promise.race([stats, exited]);
      const requests = [...s.requestMs].sort((a, b) => a - b);
      const bound = followerStalenessBound({ pollIntervalMs: POLL_MS, requestMs: requests.at(-1) as number, delayMs: s.delayMaxMs });
      const p99Bound = followerStalenessBound({ pollIntervalMs: POLL_MS, requestMs: requests[Math.ceil(0.99 * requests.length) - 1] as number, delayMs: s.delayP99Ms });
      console.log(
        `follower staleness over ${staleness.length} events: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ` +
          `bound from the follower's ${requests.length} requests (max ${Math.round(requests.at(-1) as number)} ms) and event-loop delay (max ${Math.round(s.delayMaxMs)} ms): ${Math.round(bound)} ms; ` +
          `from their p99s: ${Math.round(p99Bound)} ms (poll ${POLL_MS} ms)`,
      );
      expect(staleness.filter((x) => x.ms > bound).map((x) => `position ${x.p}: ${x.ms} ms`), `events later than the bound, ${Math.round(bound)} ms`).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await writer.close();
    }
  }, 300_000);

  it('a fenced writer\'s callers get STRAND_FENCED (kind closed), every time, and it never reopens itself', async () => {
    const env = await ensureRgw();
    const prefix = uniquePrefix('fenced');
    const staleLevel = writerLevel(env, prefix);
    const stale = await EventLog.open({ ...s3LogDefaults, store: staleLevel, ownsStore: true });
    await stale.append('accounts/f/a-1', [{ type: 'Opened', data: {} }]);
    const freshLevel = writerLevel(env, prefix);
    const fresh = await EventLog.open({ ...s3LogDefaults, store: freshLevel, ownsStore: true });
    expect(freshLevel.epoch).toBe(staleLevel.epoch + 1);
    for (let i = 0; i < 5; i++) {
      const err = await stale.append(`accounts/f/a-${i + 2}`, [{ type: 'Opened', data: {} }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStrandError(err, 'STRAND_FENCED')).toBe(true);
      expect(err).toMatchObject({ code: 'STRAND_FENCED', kind: 'closed' });
    }
    // The stale writer opened nothing new: the epoch is still the fresh writer's, which keeps writing.
    await fresh.append('accounts/f/a-9', [{ type: 'Opened', data: {} }]);
    expect(freshLevel.manifest?.epoch).toBe(freshLevel.epoch);
    const manifests = await rgwStore(env).list(`${prefix}manifest/`);
    const epochs = new Set<number>();
    for (const m of manifests) epochs.add((JSON.parse(Buffer.from((await rgwStore(env).get(m.key)) as Uint8Array).toString()) as { epoch: number }).epoch);
    expect([...epochs].sort()).toEqual([staleLevel.epoch, freshLevel.epoch]);
    expect(fresh.position).toBe(2);
    await stale.close().catch(() => undefined);
    await fresh.close();
  }, 120_000);
});
