// A/B of two builds of Strand in one process: the bench's W3 (fold one 10,000-event stream) and
// W4 (readAll) on a log written by each build, round-robin with raw classic-level (utf8 values,
// JSON.parse: the bench's reference), so the load of a shared machine falls on all three alike.
// BASE is another checkout with `npm run build` done (e.g. a worktree of main before a change).
//
//   npm run build && node --expose-gc scripts/profile/format-ab.mjs --base /path/to/other/checkout [--rounds 5] [--total 200000]
//
// Findings: docs/design/0010-cpu-per-event.md, "Record format 3".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ClassicLevel } from 'classic-level';

const { values } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string', default: '5' }, total: { type: 'string', default: '200000' } } });
if (!values.base) throw new Error('usage: format-ab.mjs --base DIR');
const rounds = Number(values.rounds);
const total = Number(values.total);
const streamLen = 10_000;
const here = await import(pathToFileURL(resolve('packages/core/dist/index.js')).href);
const base = await import(pathToFileURL(resolve(values.base, 'packages/core/dist/index.js')).href);
const root = await mkdtemp(join(tmpdir(), 'strand-ab-'));
const payload = (i) => ({ n: i, note: 'x'.repeat(180 - String(i).length) });

async function fill(openLog, name) {
  const log = await openLog({ path: join(root, name), durability: 'buffered' });
  for (let v = 0; v < streamLen; v += 500) await log.append('acct/big', Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: { amount: v + k, note: payload(v + k).note } })));
  for (let i = streamLen; i < total; i += 500) await log.append(`acct/other-${i % 997}`, Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: { amount: i + k, note: payload(i + k).note } })));
  return log;
}
const logs = { base: await fill(base.openLog, 'base'), here: await fill(here.openLog, 'here') };
const raw = new ClassicLevel(join(root, 'raw'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
await raw.open();
for (let v = 1; v <= streamLen; v += 500) await raw.batch(Array.from({ length: 500 }, (_, k) => ({ type: 'put', key: `sacct/big\u0000${String(v + k).padStart(12, '0')}`, value: JSON.stringify({ amount: v + k - 1, note: payload(v + k - 1).note }) })));
for (let p = 1; p <= total; p += 500) await raw.batch(Array.from({ length: Math.min(500, total - p + 1) }, (_, k) => ({ type: 'put', key: `g${String(p + k).padStart(12, '0')}`, value: JSON.stringify({ amount: p + k, note: payload(p + k).note }) })));

const want = (streamLen * (streamLen - 1)) / 2;
const work = {
  'fold raw': async () => {
    let sum = 0;
    for await (const v of raw.values({ gte: 'sacct/big\u0000', lt: 'sacct/big\u0001' })) sum += JSON.parse(v).amount;
    if (sum !== want) throw new Error('raw fold');
  },
  'catchup raw': async () => {
    let n = 0;
    for await (const v of raw.values({ gte: 'g', lt: 'h' })) {
      JSON.parse(v);
      n++;
    }
    if (n !== total) throw new Error('raw catch-up');
  },
};
for (const [name, log] of Object.entries(logs)) {
  work[`fold ${name}`] = async () => {
    let sum = 0;
    for await (const e of log.readStream('acct/big')) sum += e.data.amount;
    if (sum !== want) throw new Error(`${name} fold`);
  };
  work[`catchup ${name}`] = async () => {
    let n = 0;
    for await (const _ of log.readAll()) n++;
    if (n !== total) throw new Error(`${name} catch-up`);
  };
}
const times = Object.fromEntries(Object.keys(work).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [k, f] of Object.entries(work)) {
    globalThis.gc?.();
    const t0 = performance.now();
    await f();
    times[k].push(performance.now() - t0);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const w of ['fold', 'catchup']) {
  const ref = median(times[`${w} raw`]);
  for (const who of ['raw', 'base', 'here']) {
    const m = median(times[`${w} ${who}`]);
    const figure = w === 'fold' ? `${m.toFixed(1)} ms, ${(m / ref).toFixed(2)}x raw's time` : `${Math.round((total / m) * 1000).toLocaleString('en')} events/s, ${(ref / m).toFixed(2)}x raw's rate`;
    console.log(`${w.padEnd(8)} ${who.padEnd(5)} ${figure}`);
  }
}
await logs.base.close();
await logs.here.close();
await raw.close();
await rm(root, { recursive: true, force: true });
