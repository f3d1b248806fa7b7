import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { jsonCodec, meta, type PayloadCodec } from '../codec.js';
import { CorruptionError } from '../errors.js';
import { decodeRecord, recordFormat, recordKey } from './decode.js';
import { bodyOffset, isUuid, type RecordParts, RecordWriter, utf8Bytes } from './format2.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Leaves payload bytes as they are, so records compare byte for byte. */
const bytesCodec: PayloadCodec = { name: 'raw', encode: (d) => d as Uint8Array, decode: (b) => new Uint8Array(b) };

function encodeOne(stream: string, r: RecordParts): [Uint8Array, Uint8Array] {
  const w = new RecordWriter();
  w.add(stream, utf8Bytes(stream), utf8Bytes(r.type), r);
  return w.finish()[0]!;
}

describe('record format 2 (golden: a change here needs a new format version)', () => {
  it('pins the global and stream values of a record', () => {
    const [global, stream] = encodeOne('orders/eu/o-1', {
      version: 3,
      position: 70_000,
      type: 'OrderPlaced',
      id: '0b8f5a3e-2c1d-4e6f-9a7b-1c2d3e4f5a6b',
      timestamp: 1_764_000_000_000,
      metadata: undefined,
      schemaVersion: 2,
      data: jsonCodec.encode({ total: 42 }, { stream: 'orders/eu/o-1', type: 'OrderPlaced' }),
    });
    assert.equal(
      hex(global),
      '02000d6f72646572732f65752f6f2d31' +
        '0305' + '0000000000000003' + '0000000000011170' + '4279ab697e800000' + '00000002' + '000b' +
        '4f72646572506c61636564' + '0b8f5a3e2c1d4e6f9a7b1c2d3e4f5a6b' + '7b22746f74616c223a34327d',
    );
    assert.equal(hex(stream), hex(global.subarray(16)));
    assert.equal(global.buffer, stream.buffer, 'both values are views of one encoding');
  });

  it('decodes the pinned record from either key, payload on first access', () => {
    const data = jsonCodec.encode({ total: 42 }, { stream: 's', type: 'T' });
    const r: RecordParts = { version: 1, position: 9, type: 'T', id: 'not-a-uuid', timestamp: 1.5, metadata: meta.encode({ user: 'ann' }), schemaVersion: undefined, data };
    const [global, stream] = encodeOne('a/b', r);
    const expected = { stream: 'a/b', version: 1, position: 9, type: 'T', id: 'not-a-uuid', timestamp: 1.5, data: { total: 42 }, metadata: { user: 'ann' }, schemaVersion: undefined };
    assert.deepEqual({ ...decodeRecord(global, jsonCodec) }, expected);
    assert.deepEqual({ ...decodeRecord(stream, jsonCodec, 'a/b') }, expected);
    assert.throws(() => decodeRecord(stream, jsonCodec), CorruptionError, 'a stream value needs its stream name');
    assert.deepEqual([recordFormat(global), recordFormat(stream)], ['2-global', '2-stream']);
  });
});

const text = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120, size: 'max' }));
const parts: fc.Arbitrary<RecordParts> = fc.record({
  version: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.maxSafeNat()),
  position: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.maxSafeNat()),
  type: text,
  id: fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), text),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.double({ noNaN: true })),
  metadata: fc.option(
    fc.dictionary(fc.string().filter((k) => k !== '__proto__'), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))).map((m) => meta.encode(m)),
    { nil: undefined },
  ),
  schemaVersion: fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: undefined }),
  // Payloads past 64 KiB: lengths that need more than 16 bits (a few runs; they are slow to compare).
  data: fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 20 }, { arbitrary: fc.uint8Array({ minLength: 65_536, maxLength: 70_000 }), weight: 1 }),
});
const streamName = fc.oneof(fc.constantFrom('orders/eu/o-1', 'orders/eu/o-2', 'ordérs/eu/o-1'), text);

describe('record format 2, properties', () => {
  it('round-trips every record through a group buffer, from the global and the stream key', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(streamName, parts), { minLength: 1, maxLength: 8 }), (rows) => {
        const w = new RecordWriter();
        for (const [s, r] of rows) w.add(s, utf8Bytes(s), utf8Bytes(r.type), r);
        const values = w.finish();
        rows.forEach(([s, r], i) => {
          const [global, stream] = values[i]!;
          const want = { stream: s, version: r.version, position: r.position, type: r.type, id: r.id, timestamp: r.timestamp, data: r.data, metadata: r.metadata === undefined ? undefined : meta.decode(r.metadata), schemaVersion: r.schemaVersion };
          assert.deepEqual({ ...decodeRecord(global, bytesCodec) }, want);
          assert.deepEqual({ ...decodeRecord(stream, bytesCodec, s) }, want);
          assert.deepEqual(stream, global.subarray(bodyOffset(global)));
          assert.deepEqual(recordKey(global), { stream: s, version: r.version, position: r.position, id: r.id });
          // A lowercase UUID is stored in 16 bytes; anything else keeps its spelling.
          assert.equal(global.length - stream.length, 3 + Buffer.byteLength(s));
          if (isUuid(r.id)) assert.equal(r.id, r.id.toLowerCase());
        });
      }),
      { numRuns: 150 },
    );
  });

  it('never fails on a damaged record with anything but a CorruptionError', () => {
    fc.assert(
      fc.property(streamName, parts, fc.nat(), fc.integer({ min: 1, max: 255 }), (s, r, at, flip) => {
        const [global, stream] = encodeOne(s, r);
        for (const [bytes, name] of [
          [global, undefined],
          [stream, s],
        ] as const) {
          const damaged = bytes.slice();
          damaged[at % damaged.length]! ^= flip;
          for (const b of [damaged, bytes.subarray(0, at % bytes.length)]) {
            try {
              const e = decodeRecord(b, bytesCodec, name);
              void e.data;
            } catch (error) {
              if (!(error instanceof CorruptionError)) throw error;
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
