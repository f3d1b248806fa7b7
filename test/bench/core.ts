/**
 * Core event log figures (issue 2), each beside raw classic-level doing the same writes or reads
 * in the same run: the physical reference, with no event-store logic at all. Workloads follow
 * `../shared/notes/peers.md` (W1..W4) so the figures compare with the peers measured there.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { openLog } from '@strand/core';
import { alternate, type BenchContext, type BenchSection, type Figure, median, payload, percentile, pool, repeat, timeMs } from './figure.js';
import { rawAppend, w1Side } from './w1.js';
import { dirSize } from '@strand/core/testing';

type Raw = ClassicLevel<string, string>;

const enc = (i: number) => JSON.stringify(payload(i));

async function openRaw(ctx: BenchContext, label: string): Promise<Raw> {
  const db = new ClassicLevel<string, string>(await ctx.tmpdir(label));
  await db.open();
  return db;
}

/**
 * W1: sequential single-event appends with expected version over 200 streams, measured warm and
 * side by side: before the measured runs, each side makes `warm` appends that are not measured, on
 * the same store it is then measured on, so V8 has compiled the append path for the objects it
 * runs with; then Strand and raw take turns every 50 appends. In a cold
 * process the first ~10,000 appends run partly interpreted while V8's compiler threads take CPU
 * from the thread that syncs (0010, "Append tail latency"); `append.seq.cold_p99_ms` reports that
 * start separately, each side in a fresh process.
 */
async function sequential(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(200, Math.round(2000 * ctx.scale));
  const warm = Math.max(1000, Math.round(10_000 * Math.min(1, ctx.scale)));
  const runs = await w1Side(await ctx.tmpdir('w1'), await ctx.tmpdir('w1-raw'), warm, n, ctx.runs);
  const strand = runs.map((r) => r.strand);
  const raw = runs.map((r) => r.raw);
  const coldStrand: number[] = [];
  const coldRaw: number[] = [];
  await repeat(ctx.runs, async () => {
    coldStrand.push(coldP99(await ctx.tmpdir('w1-cold'), n, 'strand'));
    coldRaw.push(coldP99(await ctx.tmpdir('w1-cold-raw'), n, 'raw'));
  });
  const ref = 'raw classic-level: read head + one synced batch per append';
  return [
    { id: 'append.seq.p50_ms', value: median(strand.map((l) => percentile(l, 50))), unit: 'ms', reference: { name: ref, value: median(raw.map((l) => percentile(l, 50))) }, note: `W1: ${n} sequential 1-event appends with expected version, 200 streams, durable, after ${warm} unmeasured ones` },
    { id: 'append.seq.p99_ms', value: median(strand.map((l) => percentile(l, 99))), unit: 'ms', reference: { name: ref, value: median(raw.map((l) => percentile(l, 99))) }, note: 'W1, p99' },
    { id: 'append.seq.cold_p99_ms', value: median(coldStrand), unit: 'ms', reference: { name: `${ref}, also in a fresh process`, value: median(coldRaw) }, note: `W1, p99 of the first ${n} appends of a fresh process (JIT not yet warm)` },
  ];
}

/** The p99 of `n` W1 appends in a fresh process (w1-cold-child.ts). */
function coldP99(dir: string, n: number, arm: 'strand' | 'raw'): number {
  return runChild<{ p99: number }>('w1-cold-child.js', [dir, String(n), arm]).p99;
}

/** Runs a bench script of this directory in a process of its own; returns the JSON of its last line of output. */
function runChild<T>(script: string, args: string[]): T {
  const child = spawnSync(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`${script} ${args.join(' ')} failed with status ${child.status}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as T;
}

/** W2: 64 appends in flight over 2,000 streams (never two on one stream), durable. */
async function concurrent(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(2000, Math.round(20_000 * ctx.scale));
  const strand: number[] = [];
  const raw: number[] = [];
  await repeat(ctx.runs, async () => {
    const log = await openLog({ path: await ctx.tmpdir('w2') });
    // 1,984 streams (64 x 31); consecutive tasks go to different streams, as in the peers' W2.
    const ms = await pool(n, 64, (i) => log.append(`acct/s-${(i % 64) + 64 * (Math.floor(i / 64) % 31)}`, [{ type: 'Deposited', data: payload(i) }]));
    await log.close();
    strand.push((n / ms) * 1000);
    const db = await openRaw(ctx, 'w2-raw');
    let position = 0;
    const rv = new Map<string, number>();
    const rms = await pool(n, 64, (i) => {
      const s = `acct/s-${(i % 64) + 64 * (Math.floor(i / 64) % 31)}`;
      const v = (rv.get(s) ?? 0) + 1;
      rv.set(s, v);
      return rawAppend(db, s, v, ++position, i);
    });
    await db.close();
    raw.push((n / rms) * 1000);
  });
  return [
    {
      id: 'append.durable.events_per_s',
      value: median(strand),
      unit: 'events/s',
      reference: { name: 'raw classic-level, one synced batch per append, 64 in flight', value: median(raw) },
      note: `W2: ${n} 1-event appends, 64 in flight over ~2,000 streams, durable`,
    },
  ];
}

/** W3 and W4: fold one 10,000-event stream; catch-up read of everything in global order. */
async function reads(ctx: BenchContext): Promise<Figure[]> {
  const streamLen = 10_000;
  const total = Math.max(streamLen, Math.round(200_000 * ctx.scale));
  const dir = await ctx.tmpdir('w3');
  const log = await openLog({ path: dir, durability: 'buffered' });
  const db = await openRaw(ctx, 'w3-raw');
  const batch = 500;
  for (let v = 0; v < streamLen; v += batch) {
    await log.append('acct/big', Array.from({ length: batch }, (_, k) => ({ type: 'Deposited', data: { amount: v + k, note: payload(v + k).note } })));
  }
  for (let i = streamLen; i < total; i += batch) {
    await log.append(`acct/other-${i % 997}`, Array.from({ length: batch }, (_, k) => ({ type: 'Deposited', data: { amount: i + k, note: payload(i + k).note } })));
  }
  for (let v = 1; v <= streamLen; v += batch) {
    await db.batch(Array.from({ length: batch }, (_, k) => ({ type: 'put' as const, key: `sacct/big\u0000${String(v + k).padStart(12, '0')}`, value: JSON.stringify({ amount: v + k - 1, note: payload(v + k - 1).note }) })));
  }
  for (let p = 1; p <= total; p += batch) {
    await db.batch(Array.from({ length: Math.min(batch, total - p + 1) }, (_, k) => ({ type: 'put' as const, key: `g${String(p + k).padStart(12, '0')}`, value: JSON.stringify({ amount: p + k, note: payload(p + k).note }) })));
  }
  // Both stores settled before reading: right after a bulk load LevelDB is still compacting in the
  // background, and on a slow or single core that work shares the CPU with whichever read is being
  // timed (0010, "On one core, quiet"). The reads measure reading.
  await log.compact();
  await db.compactRange('\u0000', '\u00ff');
  // Several rounds, and each round swaps which side goes first: a slow or shared CPU moves both
  // sides' figures by up to 2x between rounds (0010, "Reads from a settled store"), so each
  // figure is a median of rounds in which both sides met the same moments.
  const rounds = Math.max(ctx.runs, 5);
  const wantSum = (streamLen * (streamLen - 1)) / 2;
  const fold = await alternate(
    rounds,
    () =>
      timeMs(async () => {
        let sum = 0;
        for await (const e of log.readStream('acct/big')) sum += (e.data as { amount: number }).amount;
        if (sum !== wantSum) throw new Error(`fold mismatch ${sum}`);
      }),
    () =>
      timeMs(async () => {
        let sum = 0;
        for await (const v of db.values({ gte: 'sacct/big\u0000', lt: 'sacct/big\u0001' })) sum += (JSON.parse(v) as { amount: number }).amount;
        if (sum !== wantSum) throw new Error(`raw fold mismatch ${sum}`);
      }),
  );
  const catchup = await alternate(
    rounds,
    async () =>
      (total /
        (await timeMs(async () => {
          let n = 0;
          for await (const _ of log.readAll()) n++;
          if (n !== total) throw new Error(`catch-up read ${n} of ${total}`);
        }))) *
      1000,
    async () =>
      (total /
        (await timeMs(async () => {
          let n = 0;
          for await (const v of db.values({ gte: 'g', lt: 'h' })) {
            JSON.parse(v);
            n++;
          }
          if (n !== total) throw new Error(`raw catch-up read ${n} of ${total}`);
        }))) *
      1000,
  );
  await log.close();
  await db.close();
  const ref = 'raw classic-level iterating and JSON-parsing the same values';
  return [
    { id: 'read.fold10k.ms', value: median(fold.strand), unit: 'ms', reference: { name: ref, value: median(fold.raw) }, note: `W3: read and fold one ${streamLen}-event stream, median of ${rounds}` },
    { id: 'catchup.events_per_s', value: median(catchup.strand), unit: 'events/s', reference: { name: ref, value: median(catchup.raw) }, note: `W4: readAll of ${total} events from position 0, median of ${rounds}` },
  ];
}

/**
 * 1,000,000 streams with one event each: time, disk bytes per event, peak RSS. Runs in a child
 * process (streams1m-child.ts) whose peak RSS is the kernel's high-water mark for this workload.
 */
async function millionStreams(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(10_000, Math.round(1_000_000 * ctx.scale));
  const dir = await ctx.tmpdir('streams1m');
  const r = runChild<{ ms: number; peakMb: number; baselineMb: number }>('streams1m-child.js', [dir, String(n)]);
  const bytes = await dirSize(dir);
  const compacted = await compactedSize(dir);
  // The physical reference: raw classic-level holding the same events the way rawAppend does
  // (global key, stream key, head), written in batches and compacted the same way.
  const rawDir = await ctx.tmpdir('streams1m-raw');
  const raw = new ClassicLevel<string, string>(rawDir);
  await raw.open();
  for (let i = 0; i < n; i += 1000) {
    const ops = [];
    for (let k = i; k < Math.min(n, i + 1000); k++) {
      const stream = `tenants/t-${k % 100}/entity-${k}`;
      const value = enc(k);
      ops.push({ type: 'put' as const, key: `g${String(k + 1).padStart(12, '0')}`, value }, { type: 'put' as const, key: `s${stream}\u0000${String(1).padStart(12, '0')}`, value }, { type: 'put' as const, key: `h${stream}`, value: '1' });
    }
    await raw.batch(ops);
  }
  await raw.close();
  const rawCompacted = await compactedSize(rawDir);
  return [
    { id: 'streams1m.rss_mb', value: r.peakMb, unit: 'MB', reference: { name: 'peak RSS of the same process after loading, before the run', value: r.baselineMb }, note: `${n} streams with one event each (durable, 256 in flight), own process; target < 300 MB` },
    { id: 'streams1m.seconds', value: r.ms / 1000, unit: 's', note: `time to create ${n} streams` },
    { id: 'streams1m.disk_bytes_per_event', value: bytes / n, unit: 'B', reference: { name: 'payload bytes per event', value: enc(1).length }, note: 'LevelDB directory size / events (before compaction)' },
    {
      id: 'streams1m.disk_bytes_per_event_compacted',
      value: compacted / n,
      unit: 'B',
      reference: { name: 'raw classic-level: the same events as global key + stream key + head, compacted', value: rawCompacted / n },
      note: 'LevelDB directory size / events after a full compactRange: independent of when the memtable was flushed, unlike the figure above',
    },
  ];
}

/** The directory's size after compacting the whole key space (the store is closed again). */
async function compactedSize(dir: string): Promise<number> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  await db.compactRange(new Uint8Array([0]), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  await db.close();
  return dirSize(dir);
}

/** The core section. */
export const core: BenchSection = {
  name: 'core',
  async run(ctx) {
    return [...(await sequential(ctx)), ...(await concurrent(ctx)), ...(await reads(ctx)), ...(await millionStreams(ctx))];
  },
};

