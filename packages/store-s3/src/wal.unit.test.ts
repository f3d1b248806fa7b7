import { describe, expect, it } from 'vitest';
import { CorruptionError } from './errors.js';
import type { WalBatch } from './wal.js';
import { decodeWal, encodeWal, walIdOf, walKey } from './wal.js';

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
    expect(obj.batches).toEqual(batches);
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
