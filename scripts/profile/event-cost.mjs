// What a catch-up read pays per event beyond raw classic-level, part by part, and therefore what
// any record format could still save. W4's 200,000 events are written by the log, compacted, and
// their global values copied into a plain LevelDB; every variant then reads one of two plain
// LevelDBs the same way (pages of 1,024 `utf8` values, 1 MiB per `nextv`, a plain loop, no
// promise per event), so only the per-event work differs:
//   raw          payload-only values, JSON.parse (the bench's reference)
//   recordLength the log's values, nothing decoded (against `rawLength`: the cost of the longer value)
//   freeHeader   the log's values, JSON.parse of the payload only, its offset known without
//                reading the header: a record format whose header costs nothing to read
//   freeEvent    freeHeader plus the event object (the id a 36-character slice of the value at a
//                fixed offset, near where ids lie; the other fields given):
//                the least any record format must do to return the events the API returns
//   strand       the log's values through the format-3 decoder, as readAll decodes them
//   jsonRecord   each record as one JSON array (name, numbers, type, id, payload) in a third
//                LevelDB: a header that JSON.parse reads natively, in the same call as the payload
//   rawLength    payload-only values, nothing decoded
//   jsonLength   the JSON-array values, nothing decoded (against `rawLength`)
// Times are CPU time of the whole process (the LevelDB thread included), in alternating rounds;
// each ratio is a median of per-round ratios to raw's time in the same round.
//
//   npm run build && taskset -c 0 node scripts/profile/event-cost.mjs [--rounds 21] [--heat-ms 3000]
//
// Findings: docs/design/0010-cpu-per-event.md, "What a record format could still save".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { alternateRounds, cpuMs, median, perRoundRatios } from './rounds.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '21' }, 'heat-ms': { type: 'string', default: '3000' } } });
const dist = (file) => import(pathToFileURL(resolve('packages/core/dist', file)).href);
const { openLog } = await dist('index.js');
const { globalKey } = await dist('keys.js');
const { decodeText } = await dist('record/format3.js');
const { jsonCodec } = await dist('codec.js');

const root = await mkdtemp(join(tmpdir(), 'strand-event-cost-'));
const total = 200_000;
// Every payload has the same length, so `freeHeader` can find it from the end of the value.
const payload = (i) => ({ amount: i, note: 'x'.repeat(180 - String(i).length) });
const payloadLength = JSON.stringify(payload(1)).length;
const log = await openLog({ path: join(root, 'log'), durability: 'buffered' });
for (let i = 0; i < total; i += 500) await log.append(`acct/other-${i % 997}`, Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: payload(i + k) })));
await log.compact();
const open = async (name) => {
  const db = new ClassicLevel(join(root, name), { keyEncoding: 'view', valueEncoding: 'utf8' });
  await db.open();
  return db;
};
const raw = await open('raw');
const records = await open('records');
const json = await open('json');
let ops = [];
let rawOps = [];
let jsonOps = [];
// Where an id lies in a record (the first one's): headers differ in length, so `freeEvent` slices about there.
let idAt = -1;
for await (const [key, value] of log.store.iterator({ gte: globalKey(1), lte: globalKey(total), keyEncoding: 'view', valueEncoding: 'utf8' })) {
  const e = decodeText(value, jsonCodec, undefined);
  const data = JSON.stringify(e.data);
  if (data.length !== payloadLength || !value.endsWith(data)) throw new Error('payloads must all have one length and end the value');
  if (idAt < 0) idAt = value.indexOf(e.id);
  ops.push({ type: 'put', key, value });
  rawOps.push({ type: 'put', key, value: data });
  jsonOps.push({ type: 'put', key, value: JSON.stringify([e.stream, e.version, e.position, e.timestamp, e.type, e.id, 0, null, e.data]) });
  if (ops.length === 1000) {
    await records.batch(ops);
    await raw.batch(rawOps);
    await json.batch(jsonOps);
    ops = [];
    rawOps = [];
    jsonOps = [];
  }
}
await log.close();
for (const db of [raw, records, json]) await db.compactRange(new Uint8Array([0]), new Uint8Array([0xff]));

async function each(db, perValue) {
  const it = db.values({ gte: new Uint8Array([0]), lt: new Uint8Array([0xff]), highWaterMarkBytes: 1 << 20 });
  let n = 0;
  let sum = 0;
  for (let page = await it.nextv(1024); page.length > 0; page = await it.nextv(1024)) {
    for (let i = 0; i < page.length; i++) sum += perValue(page[i]);
    n += page.length;
  }
  await it.close();
  if (n !== total) throw new Error(`read ${n} of ${total}`);
  return sum;
}

let k = 0;
const work = {
  raw: () => each(raw, (v) => JSON.parse(v).amount),
  recordLength: () => each(records, (v) => v.length),
  freeHeader: () => each(records, (v) => JSON.parse(v.slice(v.length - payloadLength)).amount),
  freeEvent: () =>
    each(records, (v) => {
      k++;
      const e = { stream: 'acct/other-1', version: k, position: k, type: 'Deposited', id: v.slice(idAt, idAt + 36), timestamp: 1_764_000_000_000 + k, data: JSON.parse(v.slice(v.length - payloadLength)), metadata: undefined, schemaVersion: undefined };
      return e.data.amount + e.id.length;
    }),
  strand: () => each(records, (v) => decodeText(v, jsonCodec, undefined).data.amount),
  jsonRecord: () =>
    each(json, (v) => {
      const a = JSON.parse(v);
      const e = { stream: a[0], version: a[1], position: a[2], type: a[4], id: a[5], timestamp: a[3], data: a[8], metadata: a[7] === null ? undefined : a[7], schemaVersion: a[6] === 0 ? undefined : a[6] };
      return e.data.amount + e.id.length;
    }),
  rawLength: () => each(raw, (v) => v.length),
  jsonLength: () => each(json, (v) => v.length),
};

const ms = await alternateRounds(work, { rounds: Number(values.rounds), heatMs: Number(values['heat-ms']), clock: cpuMs });
for (const name of Object.keys(work)) {
  const against = name.endsWith('Length') && name !== 'rawLength' ? 'rawLength' : 'raw';
  console.log(`${name.padEnd(12)} ${((median(ms[name]) * 1000) / total).toFixed(2)} µs/event CPU, ${median(perRoundRatios(ms, name, against)).toFixed(3)}x ${against}'s rate`);
}
for (const db of [raw, records, json]) await db.close();
await rm(root, { recursive: true, force: true });
