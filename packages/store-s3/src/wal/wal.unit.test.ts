import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptionError } from '../errors.js';
import type { WalBatch } from './format.js';
import { WAL_MAGIC, decodeWal, encodeWal, walIdOf, walKey } from './format.js';

const b = (s: string) => Buffer.from(s);

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

  it('an unknown format version is reported as corruption, not misread', () => {
    const bytes = Buffer.from(encodeWal(1, batches));
    bytes.writeUInt16LE(3, 4);
    const body = bytes.subarray(0, bytes.length - 4);
    bytes.writeUInt32LE(crc32(body), bytes.length - 4);
    expect(() => decodeWal(bytes)).toThrow(/unsupported WAL version 3/);
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
