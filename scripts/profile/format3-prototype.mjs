// Would a text record format (read with valueEncoding 'utf8', one JS string per value) close the
// catch-up gap to raw classic-level? Reads 200,000 ~250-byte events in global order, pages of
// 1,024 (nextv, 1 MiB), several ways, in the same process, round-robin:
//   raw       utf8 values, JSON.parse (the bench's reference: no envelope)
//   f2        view values, format 2 decoded by core's decodeRecord (built dist), as the log does
//   f3-proto  utf8 values, a format-3 prototype header parse + JSON.parse of the tail
//   f3-copy   as f3-proto, the id copied into its own string (no slice keeping the value alive)
//
//   npm run build && node scripts/profile/format3-prototype.mjs [--rounds 5] [--total 200000]
//
// Findings: docs/design/0010-cpu-per-event.md, "Record format 3".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { openLog } from '../../packages/core/dist/index.js';
import { decodeRecord } from '../../packages/core/dist/record/decode.js';
import { jsonCodec } from '../../packages/core/dist/codec.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, total: { type: 'string', default: '200000' } } });
const rounds = Number(values.rounds);
const total = Number(values.total);
const root = await mkdtemp(join(tmpdir(), 'strand-f3-'));
const payload = (i) => ({ n: i, note: 'x'.repeat(180 - String(i).length) });
const gkey = (p) => {
  const k = new Uint8Array(9);
  k[0] = 0x20;
  new DataView(k.buffer).setBigUint64(1, BigInt(p));
  return k;
};

// --- format-3 prototype: 'G' nameLen ':' name body; body '3' ver ',' pos ',' ts ',' schema ',' typeLen ',' type idLen ',' id metaLen ',' [meta] data
const b36 = (n) => n.toString(36);
function encode3(name, version, position, ts, type, id, data) {
  return `G${b36(name.length)}:${name}3${b36(version)},${b36(position)},${b36(ts)},,${b36(type.length)},${type}${b36(id.length)},${id}0,${JSON.stringify(data)}`;
}
let p = 0;
function num(s) {
  let n = 0;
  for (;;) {
    const c = s.charCodeAt(p++);
    if (c === 44 || c === 58) return n;
    const d = c <= 57 ? c - 48 : c - 87;
    if (!(d >= 0 && d < 36)) throw new Error('damaged');
    n = n * 36 + d;
  }
}
let lastName = '';
let lastType = '';
function decode3(s, copyId) {
  p = 1;
  const nl = num(s);
  const name = s.startsWith(lastName, p) && lastName.length === nl ? lastName : (lastName = s.slice(p, p + nl));
  p += nl;
  if (s.charCodeAt(p++) !== 51) throw new Error('damaged');
  const version = num(s);
  const position = num(s);
  const timestamp = num(s);
  let sv;
  if (s.charCodeAt(p) === 44) p++;
  else sv = num(s);
  const tl = num(s);
  const type = lastType.length === tl && s.startsWith(lastType, p) ? lastType : (lastType = s.slice(p, p + tl));
  p += tl;
  const il = num(s);
  let id = s.slice(p, p + il);
  if (copyId) id = (' ' + id).slice(1);
  p += il;
  const ml = num(s);
  const metadata = ml === 0 ? undefined : JSON.parse(s.slice(p, (p += ml)));
  const data = JSON.parse(s.slice(p));
  return { stream: name, version, position, type, id, timestamp, data, metadata, schemaVersion: sv };
}

// --- fixtures
const rawDb = new ClassicLevel(join(root, 'raw'), { keyEncoding: 'view', valueEncoding: 'utf8' });
const f3Db = new ClassicLevel(join(root, 'f3'), { keyEncoding: 'view', valueEncoding: 'utf8' });
await rawDb.open();
await f3Db.open();
const log = await openLog({ path: join(root, 'f2'), durability: 'buffered' });
const now = Date.now();
for (let i = 0; i < total; i += 500) {
  const stream = `acct/other-${i % 997}`;
  const events = Array.from({ length: 500 }, (_, k) => ({ type: 'Deposited', data: payload(i + k) }));
  await log.append(stream, events);
  await rawDb.batch(events.map((e, k) => ({ type: 'put', key: gkey(i + k + 1), value: JSON.stringify(e.data) })));
  await f3Db.batch(events.map((e, k) => ({ type: 'put', key: gkey(i + k + 1), value: encode3(stream, k + 1, i + k + 1, now, e.type, randomUUID(), e.data) })));
}
await log.close();
const f2Db = new ClassicLevel(join(root, 'f2'), { keyEncoding: 'view', valueEncoding: 'view' });
await f2Db.open();

const range = { gte: gkey(1), lte: gkey(total), highWaterMarkBytes: 1 << 20 };
async function each(db, encoding, fn) {
  const it = db.values({ ...range, valueEncoding: encoding });
  let n = 0;
  for (;;) {
    const page = await it.nextv(1024);
    if (page.length === 0) break;
    for (const v of page) {
      fn(v);
      n++;
    }
  }
  await it.close();
  if (n !== total) throw new Error(`read ${n} of ${total}`);
}
const ways = {
  raw: () => each(rawDb, 'utf8', (v) => JSON.parse(v)),
  f2: () => each(f2Db, 'view', (v) => decodeRecord(v, jsonCodec)),
  'f3-proto': () => each(f3Db, 'utf8', (v) => decode3(v, false)),
  'f3-copy': () => each(f3Db, 'utf8', (v) => decode3(v, true)),
};
// Check the prototype decodes what it encoded.
{
  const s = encode3('a/b', 7, 9, now, 'T', 'id-1', { x: 1 });
  const e = decode3(s, false);
  if (e.stream !== 'a/b' || e.version !== 7 || e.position !== 9 || e.timestamp !== now || e.id !== 'id-1' || e.data.x !== 1) throw new Error('prototype round trip');
}
const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [k, f] of Object.entries(ways)) {
    globalThis.gc?.();
    const t0 = performance.now();
    await f();
    times[k].push(performance.now() - t0);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const base = median(times.raw);
for (const [k, t] of Object.entries(times)) {
  const m = median(t);
  console.log(`${k.padEnd(9)} ${Math.round((total / m) * 1000).toLocaleString('en').padStart(9)} events/s  ${((m * 1000) / total).toFixed(2)} µs/event  ${(base / m).toFixed(2)}x raw`);
}
await rawDb.close();
await f3Db.close();
await f2Db.close();
await rm(root, { recursive: true, force: true });
