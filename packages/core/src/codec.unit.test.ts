import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { decodeHead, encodeHead, jsonCodec } from './codec.js';
import { CorruptionError } from './errors.js';
import { globalKey, streamKey, streamPrefix } from './keys.js';
import { decodeRecord } from './record/decode.js';
import { decodeFormat1Generic as decodeRecordGeneric, encodeRecordFormat1 as encodeRecord, type StoredRecord } from './record/format1.js';
import { readRecordFast } from './record/format1-reader.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const golden: StoredRecord = {
  stream: 'orders/eu/o-1',
  version: 3,
  position: 70_000,
  type: 'OrderPlaced',
  id: '0b8f5a3e-2c1d-4e6f-9a7b-1c2d3e4f5a6b',
  timestamp: 1_764_000_000_000,
  data: jsonCodec.encode({ total: 42 }, { stream: 'orders/eu/o-1', type: 'OrderPlaced' }),
  metadata: undefined,
  schemaVersion: 2,
};

describe('stored formats, record format 1 (golden: a change here needs a new format version)', () => {
  it('pins the event record, head and key bytes', () => {
    assert.equal(
      hex(encodeRecord(golden)),
      '9a01ad6f72646572732f65752f6f2d3103ce00011170ab4f72646572506c61636564d92430623866356133652d326331642d346536662d396137622d316332643365346635613662cb4279ab697e800000c40c7b22746f74616c223a34327dc002',
    );
    assert.equal(hex(encodeHead({ version: 3, lastPosition: 70_000, created: 5, truncatedBefore: 1, deleted: false, lastId: 'x' })), '9603ce00011170050100a178');
    assert.equal(hex(globalKey(70_000)), '200000000000011170');
    assert.equal(hex(streamKey(streamPrefix('a/b'), 2)), '30610162000000000000000002');
  });

  it('decodes the pinned bytes with both decoders', () => {
    const bytes = encodeRecord(golden);
    const expected = { ...golden, data: { total: 42 } };
    assert.deepEqual(decodeRecord(bytes, jsonCodec), expected);
    assert.deepEqual(decodeRecordGeneric(bytes, jsonCodec), expected);
    assert.deepEqual(decodeHead(encodeHead({ version: 3, lastPosition: 9, created: 5, truncatedBefore: 2, deleted: true, lastId: 'x', truncatedThrough: 7 })), { version: 3, lastPosition: 9, created: 5, truncatedBefore: 2, deleted: true, lastId: 'x', truncatedThrough: 7 });
    // Heads written before truncatedThrough existed: unknown when truncated, 0 when not.
    assert.equal(decodeHead(encodeHead({ version: 3, lastPosition: 9, created: 5, truncatedBefore: 2, deleted: true, lastId: 'x' })).truncatedThrough, undefined);
    assert.equal(decodeHead(encodeHead({ version: 3, lastPosition: 9, created: 5, truncatedBefore: 1, deleted: false, lastId: 'x' })).truncatedThrough, 0);
  });
});

// Every string width the envelope uses: fixstr, str8 (ASCII fast path up to 64), str16, non-ASCII.
const name = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.string({ minLength: 30, maxLength: 80, size: 'max' }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300, size: 'max' }),
);
const record: fc.Arbitrary<StoredRecord> = fc.record({
  stream: name,
  version: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.maxSafeNat()),
  position: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.maxSafeNat()),
  type: name,
  id: fc.oneof(fc.uuid(), name),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.integer({ min: 0, max: 4_102_444_800_000 })),
  data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 256, maxLength: 70_000, size: 'max' })),
  metadata: fc.option(fc.dictionary(fc.string().filter((k) => k !== '__proto__'), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))), { nil: undefined }),
  schemaVersion: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
});

describe('the specialised format-1 record reader', () => {
  it('agrees with the generic msgpack decoder on every record', () => {
    fc.assert(
      fc.property(record, (r) => {
        const bytes = encodeRecord(r);
        const generic = decodeRecordGeneric(bytes, msgpackPassthrough);
        assert.deepEqual(decodeRecord(bytes, msgpackPassthrough), generic);
        assert.deepEqual(generic, { ...r, metadata: r.metadata === undefined ? undefined : { ...r.metadata } });
        // The fast path takes every record without metadata, and leaves the others alone.
        assert.equal(readRecordFast(bytes) !== undefined, r.metadata === undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('reads runs of records that repeat or nearly repeat their stream and type (the reader reuses strings)', () => {
    // Same-length look-alikes: a reused string must come from an exact byte match only.
    const lookAlike = fc.constantFrom('orders/eu/o-1', 'orders/eu/o-2', 'orders/eu/p-1', 'ordérs/eu/o-1', 'OrderPlaced', 'OrderPlacee');
    fc.assert(
      fc.property(fc.array(fc.record({ stream: lookAlike, type: lookAlike, r: record }), { minLength: 1, maxLength: 30 }), (rows) => {
        for (const { stream, type, r } of rows) {
          const bytes = encodeRecord({ ...r, stream, type, metadata: undefined });
          assert.deepEqual(decodeRecord(bytes, msgpackPassthrough), decodeRecordGeneric(bytes, msgpackPassthrough));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never accepts a damaged record silently: fast path or a CorruptionError', () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, flip) => {
        const bytes = encodeRecord({ ...r, metadata: undefined });
        const damaged = bytes.slice();
        damaged[at % damaged.length]! ^= flip;
        const truncated = bytes.subarray(0, at % bytes.length);
        for (const b of [damaged, truncated]) {
          let fast: unknown;
          let generic: unknown;
          try {
            fast = decodeRecord(b, msgpackPassthrough);
          } catch (e) {
            fast = e instanceof CorruptionError ? 'corrupt' : e;
          }
          try {
            generic = decodeRecordGeneric(b, msgpackPassthrough);
          } catch (e) {
            generic = e instanceof CorruptionError ? 'corrupt' : e;
          }
          // Whatever the fast path returns, the generic decoder reads the same bytes the same way.
          if (fast !== 'corrupt' && readRecordFast(b) !== undefined) assert.deepEqual(fast, generic);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Leaves payload bytes as they are, so records compare byte for byte. */
const msgpackPassthrough = { name: 'raw', encode: (d: unknown) => d as Uint8Array, decode: (b: Uint8Array) => new Uint8Array(b) };
