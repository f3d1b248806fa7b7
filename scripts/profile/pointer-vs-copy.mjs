// Does the per-stream key need a full copy of the record, or is a pointer to the global record
// enough? Measures both layouts on raw classic-level (no Strand code in the loop): fold of one
// 10,000-event stream, and disk bytes per event after writing 200,000 events (W3's fixture).
//
//   node scripts/profile/pointer-vs-copy.mjs [--rounds 5]
//
// Findings: docs/design/0010-cpu-per-event.md, "Copy or pointer".
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, total: { type: 'string', default: '200000' } } });
const rounds = Number(values.rounds);
const total = Number(values.total);
const root = await mkdtemp(join(tmpdir(), 'strand-pvc-'));
const VIEW = { keyEncoding: 'view', valueEncoding: 'view' };
const u64 = (tag, n, prefix = new Uint8Array(0)) => {
  const k = new Uint8Array(prefix.length + 9);
  k.set(prefix, 0);
  k[prefix.length] = tag;
  new DataView(k.buffer).setBigUint64(prefix.length + 1, BigInt(n));
  return k;
};
const name = (s) => new TextEncoder().encode(s);
// A format-2 sized record body: ~40 bytes of envelope (an id is random) + a 200-byte JSON payload.
const record = (i) => Buffer.concat([randomBytes(40), Buffer.from(JSON.stringify({ amount: i, note: 'x'.repeat(180 - String(i).length) }))]);

async function size(dir) {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
  return n;
}

async function build(layout) {
  const dir = join(root, layout);
  const db = new ClassicLevel(dir, VIEW);
  await db.open();
  const big = name('acct/big');
  let position = 0;
  const versions = new Map();
  for (let i = 0; i < total; i += 500) {
    const stream = i < 10_000 ? big : name(`acct/other-${i % 997}`);
    const ops = [];
    for (let k = 0; k < 500; k++) {
      const p = ++position;
      const key = Buffer.from(stream).toString('latin1');
      const v = (versions.get(key) ?? 0) + 1;
      versions.set(key, v);
      const value = record(i + k);
      ops.push({ type: 'put', key: u64(0x20, p), value });
      ops.push({ type: 'put', key: u64(0x00, v, Buffer.concat([Uint8Array.of(0x30), stream])), value: layout === 'copy' ? value.subarray(0) : u64(0, p).subarray(1) });
    }
    await db.batch(ops);
  }
  const before = await size(dir);
  await db.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
  return { db, dir, big, before };
}

function sumOf(value) {
  return JSON.parse(value.toString('utf8', 40)).amount;
}

const results = {};
for (const layout of ['copy', 'pointer']) {
  const { db, dir, big, before } = await build(layout);
  const prefix = Buffer.concat([Uint8Array.of(0x30), big]);
  const lo = Buffer.concat([prefix, Uint8Array.of(0)]);
  const hi = Buffer.concat([prefix, Uint8Array.of(1)]);
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    let sum = 0;
    // Pages of 1,000 as Strand reads them (one thread-pool hop per page).
    const it = db.values({ gte: lo, lt: hi, highWaterMarkBytes: 1 << 20 });
    if (layout === 'copy') {
      for (;;) {
        const page = await it.nextv(1000);
        if (page.length === 0) break;
        for (const v of page) sum += sumOf(Buffer.from(v.buffer, v.byteOffset, v.length));
      }
      await it.close();
    } else {
      for (;;) {
        const page = await it.nextv(1000);
        if (page.length === 0) break;
        const keys = page.map((p) => Buffer.concat([Uint8Array.of(0x20), p]));
        for (const v of await db.getMany(keys)) sum += sumOf(Buffer.from(v.buffer, v.byteOffset, v.length));
      }
      await it.close();
    }
    if (sum !== (10_000 * 9_999) / 2) throw new Error(`fold mismatch ${sum}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await db.close();
  times.sort((a, b) => a - b);
  results[layout] = { foldMs: times[times.length >> 1], diskBytesPerEventBeforeCompaction: before / total, diskBytesPerEvent: (await size(dir)) / total };
}
await rm(root, { recursive: true, force: true });
console.log(JSON.stringify(results));
console.log(`pointer/copy: fold ${(results.pointer.foldMs / results.copy.foldMs).toFixed(2)}x, disk ${(results.pointer.diskBytesPerEvent / results.copy.diskBytesPerEvent).toFixed(2)}x`);
