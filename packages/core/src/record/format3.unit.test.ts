import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { jsonCodec } from '../codec.js';
import { CorruptionError } from '../errors.js';
import { decodeRecord, recordFormat, recordKey, twinBytes } from './decode.js';
import { type RecordParts, utf8Bytes } from './format2.js';
import { decodeText, TextRecordWriter, textBodyOffset, utf16Length } from './format3.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const str = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** What the commit path hands the writer: metadata and payload as JSON text in UTF-8. */
function partsOf(r: Omit<RecordParts, 'metadata' | 'data'> & { metadata: Record<string, unknown> | undefined; data: unknown }): RecordParts {
  return { ...r, metadata: r.metadata === undefined ? undefined : utf8(JSON.stringify(r.metadata)), data: jsonCodec.encode(r.data, { stream: '', type: r.type }) };
}

function encodeOne(stream: string, r: RecordParts): [Uint8Array, Uint8Array] {
  const w = new TextRecordWriter();
  w.add(stream, utf8Bytes(stream), utf8Bytes(r.type), r);
  return w.finish()[0]!;
}

describe('record format 3 (golden: a change here needs a new format version)', () => {
  it('pins the global and stream values of a record', () => {
    const [global, stream] = encodeOne(
      'orders/eu/o-1',
      partsOf({ version: 3, position: 70_000, type: 'OrderPlaced', id: '0b8f5a3e-2c1d-4e6f-9a7b-1c2d3e4f5a6b', timestamp: 1_764_000_000_000, metadata: undefined, schemaVersion: 2, data: { total: 42 } }),
    );
    // 'G' nameLen(13 = d) ':' name | '3' version ',' position(70000 = 1i0g) ',' timestamp ',' schemaVersion ',' typeLen(11 = b) ',' type idLen(36 = 10) ',' id metaLen ',' payload
    assert.equal(str(global), 'Gd:orders/eu/o-1' + '33,1i0g,midc1z40,2,b,OrderPlaced10,0b8f5a3e-2c1d-4e6f-9a7b-1c2d3e4f5a6b0,{"total":42}');
    assert.equal(str(stream), str(global).slice(16));
    assert.equal(global.buffer, stream.buffer, 'both values are views of one encoding');
    assert.equal(textBodyOffset(global), 16);
  });

  it('pins metadata, a non-ASCII name, type and id, and a timestamp that is not an integer', () => {
    const [global] = encodeOne('ordérs/😀', partsOf({ version: 1, position: 9, type: 'Ünï', id: 'ïd-😀', timestamp: 1.5, metadata: { user: 'änn' }, schemaVersion: undefined, data: 'x' }));
    assert.equal(str(global), 'G9:ordérs/😀' + '31,9,~1.5,,3,Ünï5,ïd-😀e,{"user":"änn"}"x"');
    assert.equal(textBodyOffset(global), 1 + 1 + 1 + Buffer.byteLength('ordérs/😀'));
  });

  it('decodes the pinned record from either key, as bytes or as a string', () => {
    const r = partsOf({ version: 1, position: 9, type: 'T', id: 'not-a-uuid', timestamp: 1.5, metadata: { user: 'ann' }, schemaVersion: undefined, data: { total: 42 } });
    const [global, stream] = encodeOne('a/b', r);
    const expected = { stream: 'a/b', version: 1, position: 9, type: 'T', id: 'not-a-uuid', timestamp: 1.5, data: { total: 42 }, metadata: { user: 'ann' }, schemaVersion: undefined };
    assert.deepEqual({ ...decodeRecord(global, jsonCodec) }, expected);
    assert.deepEqual({ ...decodeRecord(str(global), jsonCodec) }, expected);
    assert.deepEqual({ ...decodeRecord(stream, jsonCodec, 'a/b') }, expected);
    assert.deepEqual({ ...decodeRecord(str(stream), jsonCodec, 'a/b') }, expected);
    assert.throws(() => decodeRecord(str(stream), jsonCodec), CorruptionError, 'a stream value needs its stream name');
    assert.deepEqual([recordFormat(global), recordFormat(stream)], ['3-global', '3-stream']);
    assert.deepEqual(recordKey(str(stream), 'a/b'), { stream: 'a/b', version: 1, position: 9, id: 'not-a-uuid' });
    assert.deepEqual(twinBytes(global), stream);
    assert.deepEqual([decodeText(str(global), jsonCodec, undefined, 'text').data, decodeText(str(global), jsonCodec, undefined, 'none').data], ['{"total":42}', undefined]);
  });
});

// Well-formed strings, as validated for names, types and ids (no lone surrogates).
const text = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120, size: 'max' }));
const json: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const parts: fc.Arbitrary<RecordParts> = fc
  .record({
    version: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.maxSafeNat()),
    position: fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.maxSafeNat()),
    type: text,
    id: fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), text),
    timestamp: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.maxSafeNat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    metadata: fc.option(fc.dictionary(fc.string().filter((k) => k !== '__proto__'), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))), { nil: undefined }),
    schemaVersion: fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: undefined }),
    // Payloads of any JSON value, lone surrogates in strings included (JSON.stringify escapes them).
    data: fc.oneof({ arbitrary: json, weight: 20 }, { arbitrary: fc.string({ unit: 'binary' }), weight: 5 }, { arbitrary: fc.string({ minLength: 65_536, maxLength: 70_000 }), weight: 1 }),
  })
  .map(partsOf);
const streamName = fc.oneof(fc.constantFrom('orders/eu/o-1', 'orders/eu/o-2', 'ordérs/eu/o-1'), text);

/** -0 is written as 0 (base 36 has no sign); every other number reads back as it was. */
const sameNumber = (n: number) => (Object.is(n, -0) ? 0 : n);

describe('record format 3, properties', () => {
  it('round-trips every record through a group buffer, from the global and the stream key, as bytes and as strings', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(streamName, parts), { minLength: 1, maxLength: 8 }), (rows) => {
        const w = new TextRecordWriter();
        for (const [s, r] of rows) w.add(s, utf8Bytes(s), utf8Bytes(r.type), r);
        const values = w.finish();
        rows.forEach(([s, r], i) => {
          const [global, stream] = values[i]!;
          const want = {
            stream: s,
            version: r.version,
            position: r.position,
            type: r.type,
            id: r.id,
            timestamp: sameNumber(r.timestamp),
            data: JSON.parse(str(r.data)),
            metadata: r.metadata === undefined ? undefined : JSON.parse(str(r.metadata)),
            schemaVersion: r.schemaVersion,
          };
          assert.deepEqual({ ...decodeRecord(global, jsonCodec) }, want);
          assert.deepEqual({ ...decodeRecord(str(global), jsonCodec) }, want);
          assert.deepEqual({ ...decodeRecord(str(stream), jsonCodec, s) }, want);
          assert.deepEqual(stream, global.subarray(textBodyOffset(global)));
          assert.equal(str(stream), str(global).slice(str(global).length - str(stream).length));
          assert.deepEqual(recordKey(global), { stream: s, version: r.version, position: r.position, id: r.id });
          // Well-formed UTF-8: the bytes read back as a string and encode to the same bytes.
          assert.deepEqual(utf8(str(global)), Buffer.from(global));
        });
      }),
      { numRuns: 150 },
    );
  });

  it('counts UTF-16 code units of UTF-8 bytes', () => {
    fc.assert(fc.property(text, (t) => utf16Length(utf8(t)) === t.length));
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
            for (const decode of [() => decodeRecord(b, jsonCodec, name), () => decodeText(str(b), jsonCodec, name), () => recordKey(b, name), () => twinBytes(b)]) {
              try {
                decode();
              } catch (error) {
                if (!(error instanceof CorruptionError)) throw error;
              }
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
