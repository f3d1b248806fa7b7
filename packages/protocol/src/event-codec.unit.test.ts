import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import type { JsonTextEvent, RecordedEvent } from '@strand/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromWireEvent, toWireEvent } from './convert.js';
import { decodeEvent, encodeEvent, encodeEventDelimited, encodeEventsResponse } from './event-codec.js';
import { EventBatchEncodedSchema, EventBatchSchema, RecordedEventSchema, SubscribeResponseSchema } from './gen/strand/v1/store_pb.js';

// The hand-written codec must give and take exactly the generated code's bytes: the client reads
// them with either, and other languages read them with their own generated code.

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constant(''));
const json = fc.oneof(fc.constant(undefined), fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown));
const event: fc.Arbitrary<RecordedEvent> = fc.record({
  stream: text,
  version: fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(0)),
  position: fc.oneof(fc.nat(), fc.maxSafeNat()),
  type: text,
  id: text,
  timestamp: fc.oneof(fc.nat({ max: 2 ** 42 }), fc.maxSafeInteger(), fc.constant(-1), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 })),
  data: json,
  metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown)), { nil: undefined }),
  schemaVersion: fc.option(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { nil: undefined }),
});

function jsonText(e: RecordedEvent): JsonTextEvent {
  const { data, ...rest } = e;
  return { ...rest, dataJson: data === undefined ? '' : JSON.stringify(data) };
}

describe('event codec', () => {
  it('encodes exactly the bytes of the generated writer', () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(Buffer.from(encodeEvent(e)).equals(Buffer.from(toBinary(RecordedEventSchema, toWireEvent(e))))).toBe(true);
      }),
    );
  });

  it('encodes an event whose payload is JSON text (followJson) as the same event decoded, its text as it is', () => {
    fc.assert(
      fc.property(event, (e) => {
        const { data, ...rest } = e;
        const asText: JsonTextEvent = { ...rest, dataJson: data === undefined ? '' : JSON.stringify(data) };
        expect(Buffer.from(encodeEventDelimited(asText)).equals(Buffer.from(encodeEventDelimited(e)))).toBe(true);
        expect(toWireEvent(asText)).toEqual(toWireEvent(e));
      }),
    );
    // The text goes as it is (a server never reformats what the log stored).
    const spaced: JsonTextEvent = { stream: 's', version: 1, position: 1, type: 'T', id: 'i', timestamp: 0, dataJson: '{ "a" : 1 }', metadata: undefined, schemaVersion: undefined };
    expect(fromBinary(RecordedEventSchema, encodeEvent(spaced)).data).toBe('{ "a" : 1 }');
  });

  it('decodes what the generated writer wrote, as fromWireEvent reads it', () => {
    fc.assert(
      fc.property(event, (e) => {
        const w = toWireEvent(e);
        expect(decodeEvent(toBinary(RecordedEventSchema, w))).toEqual(fromWireEvent(w));
      }),
    );
  });

  it('skips unknown fields and takes the last of a repeated scalar, as generated readers do', () => {
    fc.assert(
      fc.property(event, fc.nat(), (e, v) => {
        const w = toWireEvent(e);
        const late = create(RecordedEventSchema, { version: BigInt(v) });
        const unknown = [
          { no: 20, wireType: WireType.Varint, data: Uint8Array.of(0x96, 0x01) },
          { no: 21, wireType: WireType.LengthDelimited, data: Uint8Array.of(2, 0x61, 0x62) },
          { no: 22, wireType: WireType.Bit64, data: new Uint8Array(8) },
          { no: 23, wireType: WireType.Bit32, data: new Uint8Array(4) },
        ];
        const bytes = Buffer.concat([toBinary(RecordedEventSchema, { ...w, $unknown: unknown }), toBinary(RecordedEventSchema, late)]);
        const generic = fromWireEvent(fromBinary(RecordedEventSchema, bytes));
        expect(decodeEvent(bytes)).toEqual(generic);
        if (v !== 0) expect(generic.version).toBe(v);
      }),
    );
  });

  it('carries a batch as raw elements that both the generated reader and the encoded twin read', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        const batch = toBinary(EventBatchSchema, {
          $typeName: 'strand.v1.EventBatch',
          events: [],
          $unknown: events.map((e) => ({ no: 1, wireType: WireType.LengthDelimited, data: encodeEventDelimited(e) })),
        });
        expect(Buffer.from(batch).equals(Buffer.from(toBinary(EventBatchSchema, create(EventBatchSchema, { events: events.map(toWireEvent) }))))).toBe(true);
        const expected = events.map((e) => fromWireEvent(toWireEvent(e)));
        expect(fromBinary(EventBatchSchema, batch).events.map(fromWireEvent)).toEqual(expected);
        expect(fromBinary(EventBatchEncodedSchema, batch).events.map(decodeEvent)).toEqual(expected);
      }),
    );
  });

  it('writes a SubscribeResponse of events exactly as the generated writer does, after the headroom asked for', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(event, fc.boolean(), fc.boolean()), { maxLength: 30 }), fc.nat({ max: 8 }), (items, headroom) => {
        // Some events as JSON text (followJson), some with their bytes made before (a live event shared by subscribers).
        const events = items.map(([e, asText]) => (asText ? jsonText(e) : e));
        const made = new Map(items.map(([e, , before], i) => [events[i]!, before ? encodeEventDelimited(e) : undefined]));
        const out = encodeEventsResponse(events, headroom, (e) => made.get(e));
        const expected = toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { message: { case: 'events', value: { events: events.map(toWireEvent) } } }));
        expect(out.length).toBe(headroom + expected.length);
        expect(out.subarray(headroom).equals(Buffer.from(expected))).toBe(true);
      }),
    );
  });

  it('writes texts across the sizes where a length takes one more byte, in one and several bytes per character', () => {
    const sizes = [1, 42, 43, 44, 127, 128, 129, 5461, 5462, 16383, 16384, 16385, 70000];
    const events: JsonTextEvent[] = sizes.flatMap((n, i) =>
      ['a', 'é', '€', '😀'].map((ch, k) => ({
        stream: `s/${ch.repeat(Math.min(n, 300))}`,
        version: i + 1,
        position: 2 ** 40 + i * 4 + k,
        type: ch.repeat(Math.min(n, 200)),
        id: `${i}-${k}`,
        timestamp: -1,
        dataJson: JSON.stringify(ch.repeat(Math.ceil(n / ch.length))),
        metadata: { note: ch.repeat(Math.min(n, 1000)) },
        schemaVersion: 7,
      })),
    );
    for (const batch of [events, events.slice(0, 3), events.slice(-5)]) {
      const expected = toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { message: { case: 'events', value: { events: batch.map(toWireEvent) } } }));
      expect(encodeEventsResponse(batch, 5).subarray(5).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('refuses bytes that end inside a field', () => {
    const bytes = encodeEvent({ stream: 'a/b', version: 3, position: 2 ** 40, type: 'T', id: 'x', timestamp: 1, data: { n: 1 }, metadata: undefined, schemaVersion: undefined });
    for (let cut = 1; cut < bytes.length; cut++) {
      let threw = false;
      try {
        decodeEvent(bytes.subarray(0, cut));
      } catch (error) {
        threw = true;
        expect((error as { code?: string }).code).toBe('STRAND_INVALID_EVENT');
      }
      // A cut between two fields is a shorter valid message; inside a field it must throw.
      if (!threw) expect(() => fromBinary(RecordedEventSchema, bytes.subarray(0, cut))).not.toThrow();
    }
  });
});
