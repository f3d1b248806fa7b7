// Where a catch-up read's time goes beyond raw classic-level's, on one core: W4 (readAll of 200,000
// events written as the bench writes them) four ways, in alternating rounds on a CPU kept busy for
// a few seconds first (a fast core is where the ratio is lowest):
//   readAll     the log's readAll, as the bench times it;
//   awaitEach   a minimal async iterator over the same pages (the same read-ahead and decoder,
//               one promise per event, as `for await` needs);
//   pageLoop    the same decoding in a plain loop over each page, no promise per event;
//   raw         raw classic-level iterating and JSON-parsing payload-only values (the reference).
//
//   npm run build && taskset -c 0 node scripts/profile/read-loop.mjs [--rounds 9] [--heat-ms 5000]
//
// Findings: docs/design/0010-cpu-per-event.md, "Figures at the end of the day".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { alternateRounds, median, perRoundRatios, wallMs } from './rounds.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, 'heat-ms': { type: 'string', default: '5000' } } });
const dist = (file) => import(pathToFileURL(resolve('packages/core/dist', file)).href);
const { openLog } = await dist('index.js');
const { readAhead } = await dist('paged.js');
const { globalKey } = await dist('keys.js');
const { decodeText } = await dist('record/format3.js');
const { jsonCodec } = await dist('codec.js');

const root = await mkdtemp(join(tmpdir(), 'strand-read-loop-'));
const note = (i) => 'x'.repeat(180 - String(i).length);
const total = 200_000;
const batch = 500;
const log = await openLog({ path: join(root, 'log'), durability: 'buffered' });
for (let i = 0; i < total; i += batch) await log.append(`acct/other-${i % 997}`, Array.from({ length: batch }, (_, k) => ({ type: 'Deposited', data: { amount: i + k, note: note(i + k) } })));
const db = new ClassicLevel(join(root, 'raw'));
await db.open();
for (let p = 1; p <= total; p += batch) await db.batch(Array.from({ length: batch }, (_, k) => ({ type: 'put', key: `g${String(p + k).padStart(12, '0')}`, value: JSON.stringify({ amount: p + k, note: note(p + k) }) })));
await log.compact();
await db.compactRange('\u0000', '\u00ff');

/** The log's pages as its reads fetch them (1 MiB, pages growing from 256 to 1,024 values). */
const pages = () => readAhead(log.store.values({ gte: globalKey(1), lte: globalKey(total), keyEncoding: 'view', valueEncoding: 'utf8', highWaterMarkBytes: 1 << 20 }), 256, 1024, total);
const decodePage = (page) => page.map((v) => decodeText(v, jsonCodec, undefined));

function awaitEach() {
  const src = pages();
  let page = [];
  let i = 0;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (i < page.length) return Promise.resolve({ value: page[i++], done: false });
      return this.fill();
    },
    async fill() {
      const next = await src.next();
      if (next === undefined) {
        await src.close();
        return { value: undefined, done: true };
      }
      page = decodePage(next);
      i = 1;
      return { value: page[0], done: false };
    },
  };
}

const check = (n) => {
  if (n !== total) throw new Error(`read ${n} of ${total}`);
};
const work = {
  readAll: async () => {
    let n = 0;
    for await (const _ of log.readAll()) n++;
    check(n);
  },
  awaitEach: async () => {
    let n = 0;
    for await (const _ of awaitEach()) n++;
    check(n);
  },
  pageLoop: async () => {
    const src = pages();
    let n = 0;
    for (let page = await src.next(); page !== undefined; page = await src.next()) for (const _ of decodePage(page)) n++;
    await src.close();
    check(n);
  },
  raw: async () => {
    let n = 0;
    for await (const v of db.values({ gte: 'g', lt: 'h' })) {
      JSON.parse(v);
      n++;
    }
    check(n);
  },
};

const ms = await alternateRounds(work, { rounds: Number(values.rounds), heatMs: Number(values['heat-ms']), clock: wallMs });
for (const k of Object.keys(work)) {
  const paired = perRoundRatios(ms, k, 'raw');
  console.log(`${k.padEnd(10)} ${Math.round((total / median(ms[k])) * 1000).toLocaleString('en')} events/s, ${median(paired).toFixed(3)}x raw's rate (median of per-round ratios: ${paired.map((x) => x.toFixed(2)).join(' ')})`);
}
await log.close();
await db.close();
await rm(root, { recursive: true, force: true });
