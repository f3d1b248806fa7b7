import { describe, expect, it } from 'vitest';
import { CorruptionError } from '@strand/core';
import { encodeWal } from './format.js';
import { SEGMENT_MAX_OBJECTS, decodeSegment, encodeSegment, segmentKey, segmentListStart, segmentRangeOf } from './segment.js';

const b = (s: string) => Buffer.from(s);

describe('WAL segments', () => {
  const objects = [encodeWal(3, [[{ type: 'put', key: b('a'), value: b('1') }]]), encodeWal(3, []), encodeWal(3, [[{ type: 'del', key: b('a') }]])];

  it('hold WAL objects of consecutive slots byte for byte', () => {
    const seg = decodeSegment(encodeSegment(41, objects));
    expect(seg.first).toBe(41);
    expect(seg.objects.map((o) => Buffer.from(o))).toEqual(objects);
  });

  it('a torn (truncated) or damaged segment is detected, at every cut', () => {
    const bytes = encodeSegment(41, objects);
    for (let cut = 0; cut < bytes.length; cut++) expect(() => decodeSegment(bytes.subarray(0, cut))).toThrow(CorruptionError);
    const flipped = Buffer.from(bytes);
    flipped[30] = (flipped[30] as number) ^ 1;
    expect(() => decodeSegment(flipped)).toThrow(/checksum/);
  });

  it('keys sort in slot order, parse back, and a LIST from segmentListStart finds every segment covering a slot', () => {
    expect(segmentKey('p/', 9, 40) < segmentKey('p/', 10, 11)).toBe(true);
    expect(segmentRangeOf('p/', segmentKey('p/', 123, 130))).toEqual({ first: 123, last: 130 });
    expect(segmentRangeOf('p/', 'p/wal/00000000000000000001')).toBeUndefined();
    const from = 1000;
    expect(segmentKey('p/', from - SEGMENT_MAX_OBJECTS + 1, from) > segmentListStart('p/', from)).toBe(true);
    expect(segmentKey('p/', from - SEGMENT_MAX_OBJECTS, from - 1) > segmentListStart('p/', from)).toBe(true); // listed, then filtered
  });
});
