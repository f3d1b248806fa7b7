import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptionError } from '@strand/core';
import type { WalBatch } from './format.js';
import { UnsupportedWalFormatError, WAL_MAGIC, decodeWal, encodeWal, walIdOf, walKey } from './format.js';
import { encodeLegacyWal, legacyBatches } from './legacy.fixture.js';

const b = (s: string) => Buffer.from(s);
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

describe('WAL objects', () => {
  const batches: WalBatch[] = [
    [
      { type: 'put', key: b('a'), value: b('1') },
      { type: 'del', key: b('b') },
    ],
    [],
    [{ type: 'range-del', range: { start: b('c'), startInclusive: true, endInclusive: false } }],
  ];

  it('round-trips batches with the writer epoch', () => {
    const obj = decodeWal(encodeWal(42, batches));
    expect(obj.epoch).toBe(42);
    expect(obj.resumeAt).toBe(0);
    expect(obj.batches).toEqual(batches);
  });

  it('carries a value passed for two keys once, and reads it back for both', () => {
    const record = Buffer.alloc(300, 7);
    const shared: WalBatch[] = [
      [
        { type: 'put', key: b('g1'), value: record },
        { type: 'put', key: b('s1'), value: record },
      ],
      [{ type: 'put', key: b('s2'), value: record }], // across batches of one object too
    ];
    const copies: WalBatch[] = shared.map((batch) => batch.map((op) => ({ ...op, value: Buffer.from(record) })));
    const once = encodeWal(1, shared);
    expect(once.length).toBeLessThan(encodeWal(1, copies).length - 2 * 290);
    expect(decodeWal(once).batches).toEqual(copies);
  });

  it("stores a value lying in an earlier put's memory as a slice of it (the event log's record and body)", () => {
    // Record format 2: one buffer per group; the global value is the record, the stream value its body.
    const group = Buffer.alloc(2 * 310);
    for (let i = 0; i < group.length; i++) group[i] = i % 251;
    const ops: WalBatch = [];
    for (let e = 0; e < 2; e++) {
      const record = group.subarray(e * 310, (e + 1) * 310);
      ops.push({ type: 'put', key: b(`g${e}`), value: record }, { type: 'put', key: b(`s${e}`), value: record.subarray(10) }, { type: 'put', key: b(`h${e}`), value: b('head') });
    }
    const copies: WalBatch = ops.map((op) => (op.type === 'put' ? { ...op, value: Buffer.from(op.value) } : op));
    const sliced = encodeWal(1, [ops]);
    const full = encodeWal(1, [copies]);
    expect(full.length - sliced.length).toBeGreaterThan(2 * 290); // both bodies stored once
    const back = decodeWal(sliced).batches;
    expect(back).toEqual([copies]);
    // Decoded, the body is a view of the decoded record (one copy in the memtable too).
    const [g0, s0] = back[0] as { value: Uint8Array }[];
    expect(s0?.value.buffer).toBe(g0?.value.buffer);
  });

  it('does not take equal bytes in unrelated memory for a slice', () => {
    const ops: WalBatch = [
      { type: 'put', key: b('a'), value: Buffer.alloc(100, 1) },
      { type: 'put', key: b('b'), value: Buffer.alloc(100, 1) },
    ];
    const encoded = encodeWal(1, [ops]);
    expect(encoded.length).toBeGreaterThan(200);
    expect(decodeWal(encoded).batches).toEqual([ops]);
  });

  it('round-trips any mix of views of shared buffers (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.boolean()), { maxLength: 40 }),
        (buffers, picks) => {
          const ops: WalBatch = picks.map(([which, from, len, del], i) => {
            const buf = buffers[which % buffers.length] as Uint8Array;
            const start = buf.length === 0 ? 0 : from % buf.length;
            const value = buf.subarray(start, start + (len % (buf.length - start + 1)));
            return del ? { type: 'del' as const, key: b(`k${i}`) } : { type: 'put' as const, key: b(`k${i}`), value };
          });
          const want = ops.map((op) => (op.type === 'put' ? { ...op, value: Buffer.from(op.value) } : op));
          const half = Math.floor(ops.length / 2);
          const back = decodeWal(encodeWal(3, [ops.slice(0, half), ops.slice(half)])).batches;
          expect(back.flat().map((op) => (op.type === 'put' ? { ...op, value: Buffer.from(op.value) } : op))).toEqual(want);
        },
      ),
      { seed: SEED, verbose: true },
    );
  });

  it('still reads format 2 objects (put-same) written by the previous release', () => {
    const dir = new URL('../../fixtures/', import.meta.url);
    const obj = decodeWal(readFileSync(new URL('wal-v2.golden', dir)));
    expect(obj.epoch).toBe(5);
    expect(obj.resumeAt).toBe(0);
    const want = legacyBatches().map((batch) => batch.map((op) => (op.type === 'put' ? { ...op, value: Buffer.from(op.value) } : op)));
    expect(obj.batches).toEqual(want);
    expect(decodeWal(readFileSync(new URL('wal-v2-fence.golden', dir)))).toEqual({ epoch: 6, resumeAt: 37, batches: [] });
    // The simulation's legacy writer writes exactly what that release wrote.
    expect(encodeLegacyWal(2, 5, legacyBatches())).toEqual(readFileSync(new URL('wal-v2.golden', dir)));
    expect(encodeLegacyWal(2, 6, [], 37)).toEqual(readFileSync(new URL('wal-v2-fence.golden', dir)));
  });

  it('a fence object carries the slot where replay resumes', () => {
    const obj = decodeWal(encodeWal(7, [], 1234567));
    expect(obj).toEqual({ epoch: 7, resumeAt: 1234567, batches: [] });
  });

  it('still reads format 1 objects (no resume slot)', () => {
    // Format 1 by hand: magic, u16 1, u64 epoch, u32 batch count; one batch: u32 ops, put (varint lengths).
    const body = Buffer.concat([
      WAL_MAGIC,
      Buffer.from([1, 0]),
      Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from([1]),
      Buffer.from([1]),
      b('k'),
      Buffer.from([1]),
      b('v'),
    ]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32(body));
    const obj = decodeWal(Buffer.concat([body, crc]));
    expect(obj).toEqual({ epoch: 9, resumeAt: 0, batches: [[{ type: 'put', key: b('k'), value: b('v') }]] });
  });

  it('an unknown (newer) format version is refused, not misread or taken for a torn object', () => {
    const bytes = Buffer.from(encodeWal(1, batches));
    bytes.writeUInt16LE(4, 4);
    const body = bytes.subarray(0, bytes.length - 4);
    bytes.writeUInt32LE(crc32(body), bytes.length - 4);
    expect(() => decodeWal(bytes)).toThrow(UnsupportedWalFormatError);
    expect(() => decodeWal(bytes)).toThrow(/unsupported WAL version 4/);
  });

  it('a torn (truncated) object is detected, at every cut', () => {
    const bytes = encodeWal(1, batches);
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeWal(bytes.subarray(0, cut))).toThrow(CorruptionError);
    }
  });

  it('slot keys sort in slot order and parse back', () => {
    expect(walKey('p/', 9) < walKey('p/', 10)).toBe(true);
    expect(walIdOf('p/', walKey('p/', 123))).toBe(123);
    expect(walIdOf('p/', 'p/sst/x.sst')).toBeUndefined();
  });
});
