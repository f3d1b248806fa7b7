/**
 * `strand.v1.RecordedEvent` in protobuf binary, written and read by hand: exactly the bytes
 * `toBinary(RecordedEventSchema, toWireEvent(e))` gives, without building the message object, its
 * bigints and a chunk per string on the way. Subscriptions send each event's bytes as they are
 * (encoded once for every subscriber of a live event) and the client decodes them straight into a
 * `RecordedEvent`. Design: docs/design/0013-server.md, "Event encoding".
 *
 * @module
 */
import { InvalidEventError, type JsonTextEvent, type RecordedEvent } from '@strand/core';
import { parseJsonText } from './convert.js';

// Field numbers of strand.v1.RecordedEvent (proto/strand/v1/store.proto).
const STREAM = 1;
const VERSION = 2;
const POSITION = 3;
const TYPE = 4;
const ID = 5;
const TIMESTAMP = 6;
const DATA = 7;
const METADATA = 8;
const SCHEMA_VERSION = 9;

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

const TWO_32 = 2 ** 32;

/** Bytes of `n` (an integer, 0 <= n < 2^64, exact below 2^53) as a varint. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** An int64 below zero: ten bytes of its two's complement. */
function writeNegative(buf: Buffer, pos: number, n: number): number {
  let v = BigInt.asUintN(64, BigInt(n));
  for (let i = 0; i < 9; i++) {
    buf[pos++] = Number(v & 0x7fn) | 128;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

/**
 * A recorded event as the protobuf binary of `strand.v1.RecordedEvent`: the same bytes as
 * `toBinary(RecordedEventSchema, toWireEvent(e))` (fields in number order, defaults left out,
 * payloads as JSON text). A {@link JsonTextEvent} (`EventLog.followJson`) goes with its
 * `dataJson` as it is, without a parse and a stringify.
 */
export function encodeEvent(e: RecordedEvent | JsonTextEvent): Uint8Array {
  return encode(e, false);
}

/**
 * {@link encodeEvent}'s bytes after their length as a varint: the value of a length-delimited
 * field holding the event (what a repeated `RecordedEvent` field carries for each element).
 */
export function encodeEventDelimited(e: RecordedEvent | JsonTextEvent): Uint8Array {
  return encode(e, true);
}

/** The payload of an event as wire JSON text ('' for `undefined`). */
function dataText(e: RecordedEvent | JsonTextEvent): string {
  if ('dataJson' in e) return e.dataJson;
  return e.data === undefined ? '' : (JSON.stringify(e.data) ?? '');
}

// strand.v1.SubscribeResponse: `EventBatch events = 2` (in the oneof); EventBatch: `repeated RecordedEvent events = 1`.
const RESPONSE_EVENTS = 2;
const BATCH_EVENTS = 1;

/** Where batches are written before their exact size is known (grown as needed, reused). */
let scratch: Buffer = Buffer.allocUnsafe(1 << 16);

/**
 * Writes `s` as a length-delimited field at `pos` in one pass: the text goes where a length of
 * the largest size it could need would end (three bytes per UTF-16 unit), and moves back when
 * its real length takes fewer bytes (rare: strings of 43 to 127 units, or mostly multi-byte
 * text). One native call per string instead of measuring it first.
 */
function writeText(buf: Buffer, pos: number, field: number, s: string): number {
  const units = s.length;
  if (units === 0) return pos;
  buf[pos++] = tag(field, LEN);
  const room = varintSize(units * 3);
  const len = buf.write(s, pos + room);
  const need = varintSize(len);
  if (need !== room) buf.copyWithin(pos + need, pos + room, pos + room + len);
  return writeVarint(buf, pos, len) + len;
}

/** Most bytes an event can take: three per UTF-16 unit of its texts, plus tags and varints. */
function bound(e: RecordedEvent | JsonTextEvent, data: string, metadata: string): number {
  return 3 * (e.stream.length + e.type.length + e.id.length + data.length + metadata.length) + 9 * 11;
}

/** The metadata of an event as wire JSON text ('' when it has none). */
function metadataText(e: RecordedEvent | JsonTextEvent): string {
  return e.metadata === undefined ? '' : (JSON.stringify(e.metadata) ?? '');
}

/**
 * Writes an event's fields at `start` (fields in number order, defaults left out) in one pass;
 * returns the end. `buf` holds at least {@link bound} bytes from `start`.
 */
function writeEvent(buf: Buffer, start: number, e: RecordedEvent | JsonTextEvent, data: string, metadata: string): number {
  let end = writeText(buf, start, STREAM, e.stream);
  if (e.version !== 0) {
    buf[end++] = tag(VERSION, VARINT);
    end = writeVarint(buf, end, e.version);
  }
  if (e.position !== 0) {
    buf[end++] = tag(POSITION, VARINT);
    end = writeVarint(buf, end, e.position);
  }
  end = writeText(buf, end, TYPE, e.type);
  end = writeText(buf, end, ID, e.id);
  if (e.timestamp !== 0) {
    buf[end++] = tag(TIMESTAMP, VARINT);
    end = e.timestamp < 0 ? writeNegative(buf, end, e.timestamp) : writeVarint(buf, end, e.timestamp);
  }
  end = writeText(buf, end, DATA, data);
  end = writeText(buf, end, METADATA, metadata);
  const schemaVersion = e.schemaVersion ?? 0;
  if (schemaVersion !== 0) {
    buf[end++] = tag(SCHEMA_VERSION, VARINT);
    end = writeVarint(buf, end, schemaVersion);
  }
  return end;
}

/** Where single events are written before they are copied out at their exact size (not `scratch`: `encodeEventsResponse` may call `encodeEventDelimited` while it writes a batch there). */
let single: Buffer = Buffer.allocUnsafe(1 << 12);

function encode(e: RecordedEvent | JsonTextEvent, delimited: boolean): Uint8Array {
  const data = dataText(e);
  const metadata = metadataText(e);
  const most = bound(e, data, metadata);
  if (single.length < most) single = Buffer.allocUnsafe(Math.max(most, single.length * 2));
  const size = writeEvent(single, 0, e, data, metadata);
  const out = Buffer.allocUnsafe(delimited ? varintSize(size) + size : size);
  single.copy(out, delimited ? writeVarint(out, 0, size) : 0, 0, size);
  return out;
}

/**
 * A `strand.v1.SubscribeResponse` holding an `EventBatch` of `events`, in protobuf binary after
 * `headroom` bytes left to the caller (a Connect envelope's five): exactly what
 * `toBinary(SubscribeResponseSchema, { message: { case: 'events', value: { events: events.map(toWireEvent) } } })`
 * writes, without a message object, its bigints or a chunk per field: each event is written once
 * into a reused buffer (its length written after it, moved in the rare case it takes fewer bytes
 * than reserved), and the batch copied once into the buffer returned. `encoded` may hand over an
 * event's bytes made before ({@link encodeEventDelimited}: a live event shared by many subscribers
 * is encoded once); they are copied as they are. Design: docs/design/0013-server.md, "Event encoding".
 */
export function encodeEventsResponse(events: readonly (RecordedEvent | JsonTextEvent)[], headroom = 0, encoded?: (e: RecordedEvent | JsonTextEvent) => Uint8Array | undefined): Buffer {
  let pos = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const bytes = encoded?.(e);
    if (bytes !== undefined) {
      if (scratch.length < pos + 1 + bytes.length) scratch = grow(scratch, pos, pos + 1 + bytes.length);
      scratch[pos++] = tag(BATCH_EVENTS, LEN);
      scratch.set(bytes, pos);
      pos += bytes.length;
      continue;
    }
    const data = dataText(e);
    const metadata = metadataText(e);
    const most = bound(e, data, metadata);
    const room = varintSize(most);
    if (scratch.length < pos + 1 + room + most) scratch = grow(scratch, pos, pos + 1 + room + most);
    const buf = scratch;
    buf[pos++] = tag(BATCH_EVENTS, LEN);
    const start = pos + room;
    const end = writeEvent(buf, start, e, data, metadata);
    const size = end - start;
    const need = varintSize(size);
    if (need !== room) buf.copyWithin(pos + need, start, end);
    pos = writeVarint(buf, pos, size) + size;
  }
  const out = Buffer.allocUnsafe(headroom + 1 + varintSize(pos) + pos);
  out[headroom] = tag(RESPONSE_EVENTS, LEN);
  scratch.copy(out, writeVarint(out, headroom + 1, pos), 0, pos);
  return out;
}

/** A larger scratch buffer holding the first `used` bytes of `buf`. */
function grow(buf: Buffer, used: number, needed: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(needed, buf.length * 2));
  buf.copy(next, 0, 0, used);
  return next;
}

/** The 64-bit two's complement `hi:lo` as a number (negative when the top bit is set). */
function join(lo: number, hi: number): number {
  let l = lo >>> 0;
  let h = hi >>> 0;
  if (h < 0x80000000) return h * TWO_32 + l;
  l = (~l + 1) >>> 0;
  h = ~h >>> 0;
  if (l === 0) h = (h + 1) >>> 0;
  return -(h * TWO_32 + l);
}

/** Reads protobuf binary from one buffer. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint as a number: exact below 2^53; an int64 below zero comes back negative. */
  varint(): number {
    const b = this.buf;
    let lo = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.byte(b);
      lo |= (byte & 0x7f) << shift;
      if (byte < 128) return lo;
    }
    let byte = this.byte(b);
    lo |= (byte & 0x0f) << 28;
    let hi = (byte & 0x7f) >> 4;
    if (byte < 128) return join(lo, hi);
    for (let shift = 3; shift <= 31; shift += 7) {
      byte = this.byte(b);
      hi |= (byte & 0x7f) << shift;
      if (byte < 128) return join(lo, hi);
    }
    throw new InvalidEventError('malformed event from the server: a varint runs over 10 bytes');
  }

  private byte(b: Buffer): number {
    if (this.pos >= b.length) throw new InvalidEventError('malformed event from the server: it ends inside a field');
    return b[this.pos++]!;
  }

  string(): string {
    const len = this.varint();
    const end = this.pos + len;
    if (len < 0 || end > this.buf.length) throw new InvalidEventError('malformed event from the server: a field runs past its end');
    const s = this.buf.toString(undefined, this.pos, end);
    this.pos = end;
    return s;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case FIXED64:
        this.pos += 8;
        break;
      case FIXED32:
        this.pos += 4;
        break;
      case LEN: {
        const len = this.varint();
        this.pos += len;
        break;
      }
      default:
        throw new InvalidEventError(`malformed event from the server: wire type ${wireType}`);
    }
    if (this.pos > this.buf.length) throw new InvalidEventError('malformed event from the server: a field runs past its end');
  }
}

/**
 * The protobuf binary of a `strand.v1.RecordedEvent` as a {@link RecordedEvent} (what
 * `fromWireEvent(fromBinary(RecordedEventSchema, bytes))` gives): fields in any order, the last
 * of a repeated scalar wins, unknown fields skipped.
 */
export function decodeEvent(bytes: Uint8Array): RecordedEvent {
  const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  let stream = '';
  let version = 0;
  let position = 0;
  let type = '';
  let id = '';
  let timestamp = 0;
  let data = '';
  let metadata = '';
  let schemaVersion = 0;
  const end = r.buf.length;
  while (r.pos < end) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType === LEN) {
      if (field === STREAM) stream = r.string();
      else if (field === TYPE) type = r.string();
      else if (field === ID) id = r.string();
      else if (field === DATA) data = r.string();
      else if (field === METADATA) metadata = r.string();
      else r.skip(wireType);
    } else if (wireType === VARINT) {
      if (field === VERSION) version = r.varint();
      else if (field === POSITION) position = r.varint();
      else if (field === TIMESTAMP) timestamp = r.varint();
      // uint32: the low 32 bits, as a reader of the generated code keeps them.
      else if (field === SCHEMA_VERSION) schemaVersion = r.varint() % TWO_32;
      else r.skip(wireType);
    } else {
      r.skip(wireType);
    }
  }
  return {
    stream,
    version,
    position,
    type,
    id,
    timestamp,
    data: parseJsonText(data, 'data'),
    metadata: metadata === '' ? undefined : (parseJsonText(metadata, 'metadata') as Record<string, unknown>),
    schemaVersion: schemaVersion === 0 ? undefined : schemaVersion,
  };
}

/**
 * The `position` field of an encoded `strand.v1.RecordedEvent` (0 when absent), read without
 * decoding the rest: a client that receives the same event on several subscriptions decodes it
 * once.
 */
export function peekPosition(bytes: Uint8Array): number {
  const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  let position = 0;
  while (r.pos < r.buf.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === POSITION && wireType === VARINT) position = r.varint();
    // The generated writer puts fields in number order: past field 3, position is known.
    else if (field > POSITION && position !== 0) return position;
    else r.skip(wireType);
  }
  return position;
}
