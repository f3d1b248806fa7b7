// Where the slowest sequential durable appends (the bench's W1, `append.seq.p99_ms`) spend their
// time, Strand beside raw classic-level. The two alternate in blocks of 50 appends in one process,
// so a stall of the shared disk or CPU falls on both alike, and a third arm replays the very batch
// operations Strand wrote (same keys, same value bytes) straight to classic-level: if Strand's
// tail is in its own JavaScript, the replay's tail is raw's; if it is in what Strand writes, the
// replay's tail is Strand's.
//
// For each append of Strand it splits the time into: before the store's batch call (validation,
// encoding, the commit pipeline), the batch itself (native write + fsync, until its promise
// settles on the main thread), and after (acknowledgement to the caller). GC pauses that overlap
// each of the slowest 1% are counted.
//
//   npm run build && node --expose-gc scripts/profile/append-tail.mjs [--rounds 3] [--appends 2000] [--warm 10000]
//
// --warm N makes N unmeasured Strand appends first (a log of their own), so the rounds see a
// compiled append path; without it they see the process's first appends (the cold start).
// Each round prints the CPU time V8's and libuv's threads used, from /proc (Linux).
//
// Findings: docs/design/0010-cpu-per-event.md, "Append tail latency".
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ClassicLevel } from 'classic-level';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, appends: { type: 'string', default: '2000' }, block: { type: 'string', default: '50' }, 'replay-gap-ms': { type: 'string', default: '0' }, warm: { type: 'string', default: '0' } } });
const replayGap = Number(values['replay-gap-ms']);
const rounds = Number(values.rounds);
const n = Number(values.appends);
const block = Number(values.block);
const { EventLog } = await import(pathToFileURL(resolve('packages/core/dist/index.js')).href);
const root = await mkdtemp(join(tmpdir(), 'strand-tail-'));
const payload = (i) => ({ n: i, note: 'x'.repeat(180 - String(i).length) });
const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
}).observe({ entryTypes: ['gc'] });

const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};
const median = (a) => pct(a, 50);
const ms = (x) => x.toFixed(3);

async function round(r) {
  const view = { keyEncoding: 'view', valueEncoding: 'view' };
  const store = new ClassicLevel(join(root, `strand-${r}`), view);
  // The batch Strand issues for each append, timed from the call until its promise settles.
  let current;
  const batch = store.batch.bind(store);
  store.batch = (ops, options) => {
    if (!Array.isArray(ops) || current === undefined) return batch(ops, options);
    const rec = current;
    rec.ops = ops;
    rec.batchStart = performance.now();
    const p = batch(ops, options);
    p.then(() => (rec.batchEnd = performance.now()), () => {});
    return p;
  };
  const log = await EventLog.open({ store });
  const raw = new ClassicLevel(join(root, `raw-${r}`));
  await raw.open();
  const replay = new ClassicLevel(join(root, `replay-${r}`), view);
  await replay.open();
  const versions = new Array(200).fill(0);
  const rawVersions = new Array(200).fill(0);
  const strand = [];
  const rawLat = [];
  const replayLat = [];
  let replayed = 0;
  for (let i = 0; i < n; i++) {
    const arm = Math.floor(i / block) % 3;
    const s = i % 200;
    if (arm === 0) {
      current = { t0: performance.now() };
      await log.append(`acct/s-${s}`, [{ type: 'Deposited', data: payload(i) }], { expectedVersion: versions[s] });
      current.t1 = performance.now();
      strand.push(current);
      current = undefined;
      versions[s]++;
    } else if (arm === 1) {
      const t0 = performance.now();
      await raw.get(`hacct/s-${s}`);
      const value = JSON.stringify({ type: 'Deposited', data: payload(i) });
      const v = ++rawVersions[s];
      await raw.batch(
        [
          { type: 'put', key: `g${String(i + 1).padStart(12, '0')}`, value },
          { type: 'put', key: `sacct/s-${s}\u0000${String(v).padStart(12, '0')}`, value },
          { type: 'put', key: `hacct/s-${s}`, value: String(v) },
        ],
        { sync: true },
      );
      rawLat.push(performance.now() - t0);
    } else if (replayed < strand.length) {
      const ops = strand[replayed++].ops;
      // --replay-gap-ms: idle the CPU this long before each replayed batch, as Strand's own work
      // between two appends does, to tell the gap between fsyncs from the bytes.
      for (const until = performance.now() + replayGap; performance.now() < until; );
      const t0 = performance.now();
      await replay.batch(ops, { sync: true });
      replayLat.push(performance.now() - t0);
    }
  }
  await log.close();
  await raw.close();
  await replay.close();
  const total = strand.map((a) => a.t1 - a.t0);
  const slow = [...strand].sort((a, b) => b.t1 - b.t0 - (a.t1 - a.t0)).slice(0, Math.max(1, Math.ceil(strand.length / 100)));
  const part = (a) => ({ before: a.batchStart - a.t0, batch: a.batchEnd - a.batchStart, after: a.t1 - a.batchEnd });
  const gcHit = slow.filter((a) => gcs.some((g) => g.start < a.t1 && g.end > a.t0)).length;
  return {
    strandP50: median(total),
    strandP99: pct(total, 99),
    rawP50: median(rawLat),
    rawP99: pct(rawLat, 99),
    replayP99: pct(replayLat, 99),
    batchP99: pct(strand.map((a) => a.batchEnd - a.batchStart), 99),
    slowBefore: median(slow.map((a) => part(a).before)),
    slowBatch: median(slow.map((a) => part(a).batch)),
    slowAfter: median(slow.map((a) => part(a).after)),
    gcHit,
    slowCount: slow.length,
  };
}

// CPU ms of each thread since the last call, the main thread first, then V8's workers and
// libuv's pool in the order Node starts them (/proc/self/task/*, Linux only; Node 20 names them
// all "node").
let lastCpu = new Map();
function threadCpu() {
  const now = new Map();
  const used = [];
  try {
    for (const t of readdirSync('/proc/self/task').sort((a, b) => Number(a) - Number(b))) {
      const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * 10;
      now.set(t, ms);
      used.push(ms - (lastCpu.get(t) ?? 0));
    }
  } catch {
    return [];
  }
  lastCpu = now;
  return used;
}

const warm = Number(values.warm);
if (warm > 0) {
  const log = await EventLog.open({ store: new ClassicLevel(join(root, 'warm'), { keyEncoding: 'view', valueEncoding: 'view' }) });
  for (let i = 0; i < warm; i++) await log.append(`acct/s-${i % 200}`, [{ type: 'Deposited', data: payload(i) }]);
  await log.close();
}
threadCpu();
const results = [];
for (let r = 0; r < rounds; r++) {
  globalThis.gc?.();
  const res = await round(r);
  results.push(res);
  console.log(`round ${r}: Strand p99 ${ms(res.strandP99)} ms, raw p99 ${ms(res.rawP99)} ms; CPU ms per thread (main first): ${threadCpu().join(' ')}`);
}
await rm(root, { recursive: true, force: true });
const col = (k) => median(results.map((x) => x[k]));
console.log(`medians of ${rounds} rounds, ${n} appends per round in blocks of ${block} (Strand, raw, replay of Strand's batches)`);
console.log(`Strand append      p50 ${ms(col('strandP50'))} ms   p99 ${ms(col('strandP99'))} ms`);
console.log(`raw classic-level  p50 ${ms(col('rawP50'))} ms   p99 ${ms(col('rawP99'))} ms   (ratio p99 ${(col('strandP99') / col('rawP99')).toFixed(2)}x)`);
console.log(`replay of Strand's batches            p99 ${ms(col('replayP99'))} ms`);
console.log(`Strand's own batch call               p99 ${ms(col('batchP99'))} ms`);
console.log(`slowest 1% of Strand appends (median): before batch ${ms(col('slowBefore'))} ms, batch ${ms(col('slowBatch'))} ms, after ${ms(col('slowAfter'))} ms; overlapping a GC pause: ${results.map((x) => `${x.gcHit}/${x.slowCount}`).join(', ')}`);
