/**
 * Record format 3: a text envelope, for logs whose payloads are JSON text (the built-in JSON
 * codec). Every value is valid UTF-8, so reads ask the store for `utf8` values and get one JS
 * string per value instead of a Buffer (docs/design/0010-cpu-per-event.md, "Record format 3";
 * key layout: docs/design/0001-key-layout.md).
 *
 * ```
 * global value (key 0x20 u64 position):  'G' nameLen ':' name body
 * stream value (key 0x30 name 0x00 u64):  body                     (the name is in the key)
 * body:  '3' version ',' position ',' timestamp ',' [schemaVersion] ',' typeLen ',' type
 *        idLen ',' id  metaLen ',' [metadata JSON]  payload JSON (to the end)
 * ```
 * Numbers are lowercase base 36; lengths count UTF-16 code units (what a reader's string
 * indexes), not bytes. The timestamp is a base-36 integer, or `~` and the decimal text of any
 * other number a clock gave. `metaLen` 0: no metadata. The stream value is the global value's
 * body, byte for byte: a group encodes each event once into one buffer and hands both keys views
 * of it, as in format 2. Names, types and ids hold no lone surrogates (validate.ts), and
 * `JSON.stringify` escapes those of payloads, so the values are well-formed UTF-8.
 *
 * @module
 */
import { jsonCodec, type PayloadCodec } from '../codec.js';
import { CorruptionError } from '../errors.js';
import type { JsonTextEvent, RecordedEvent } from '../types.js';
import type { RecordParts } from './format2.js';

/** First character (and byte) of a format-3 global record: `G`. */
export const TEXT_GLOBAL = 0x47;
/** First character (and byte) of a format-3 record body (the stream value): `3`. */
export const TEXT_BODY = 0x33;
const COMMA = 0x2c;
const COLON = 0x3a;
const TILDE = 0x7e;
/** Base-36 digits, by value. */
const DIGITS = new Uint8Array(36);
for (let i = 0; i < 36; i++) DIGITS[i] = i.toString(36).charCodeAt(0);
const textEncoder = new TextEncoder();

/** Characters of `n` (a non-negative safe integer) in base 36. */
function b36Length(n: number): number {
  let len = 1;
  while (n >= 36) {
    n = Math.floor(n / 36);
    len++;
  }
  return len;
}

/** Writes `n` in base 36 at `o`; returns the offset after it. */
function putB36(b: Uint8Array, o: number, n: number): number {
  const end = o + b36Length(n);
  for (let i = end - 1; i >= o; i--) {
    b[i] = DIGITS[n % 36]!;
    n = Math.floor(n / 36);
  }
  return end;
}

/** Writes an ASCII string at `o`; returns the offset after it. */
function putAscii(b: Uint8Array, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[o + i] = s.charCodeAt(i);
  return o + s.length;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** The UTF-16 length of well-formed UTF-8 `bytes` (a 4-byte sequence is a surrogate pair). */
export function utf16Length(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

interface Chunk {
  stream: string;
  name: Uint8Array;
  type: Uint8Array;
  /** The id's UTF-8 bytes when it is not ASCII (an ASCII id is written from its string). */
  id: Uint8Array | undefined;
  /** The timestamp's text when it is not a non-negative safe integer. */
  ts: string | undefined;
  metaChars: number;
  r: RecordParts;
  size: number;
}

/**
 * Encodes a group's records into one buffer in format 3: for each record, its global value and,
 * as a view into it, its stream value. `r.metadata` is the metadata's JSON text in UTF-8 and
 * `r.data` the payload's (the JSON codec's output).
 */
export class TextRecordWriter {
  private readonly chunks: Chunk[] = [];
  private total = 0;

  /** Adds a record of `stream` (`name`: its UTF-8 bytes; `type`: the type's); returns its index. */
  add(stream: string, name: Uint8Array, type: Uint8Array, r: RecordParts): number {
    const id = isAscii(r.id) ? undefined : textEncoder.encode(r.id);
    const ts = Number.isSafeInteger(r.timestamp) && r.timestamp >= 0 ? undefined : `~${r.timestamp}`;
    const metaChars = r.metadata === undefined ? 0 : utf16Length(r.metadata);
    // Fixed characters: 'G' ':' (2), '3' and five commas (6), the commas after idLen and metaLen (2).
    const size =
      2 +
      b36Length(stream.length) +
      name.length +
      6 +
      b36Length(r.version) +
      b36Length(r.position) +
      (ts === undefined ? b36Length(r.timestamp) : ts.length) +
      (r.schemaVersion === undefined ? 0 : b36Length(r.schemaVersion)) +
      b36Length(r.type.length) +
      type.length +
      b36Length(r.id.length) +
      (id === undefined ? r.id.length : id.length) +
      2 +
      b36Length(metaChars) +
      (r.metadata === undefined ? 0 : r.metadata.length) +
      r.data.length;
    this.chunks.push({ stream, name, type, id, ts, metaChars, r, size });
    this.total += size;
    return this.chunks.length - 1;
  }

  /** Writes every record added; returns `[global, stream]` value pairs, in order. */
  finish(): Array<[Uint8Array, Uint8Array]> {
    const buf = new Uint8Array(this.total);
    const out: Array<[Uint8Array, Uint8Array]> = [];
    let o = 0;
    for (const { stream, name, type, id, ts, metaChars, r, size } of this.chunks) {
      const start = o;
      buf[o++] = TEXT_GLOBAL;
      o = putB36(buf, o, stream.length);
      buf[o++] = COLON;
      buf.set(name, o);
      o += name.length;
      const body = o;
      buf[o++] = TEXT_BODY;
      o = putB36(buf, o, r.version);
      buf[o++] = COMMA;
      o = putB36(buf, o, r.position);
      buf[o++] = COMMA;
      o = ts === undefined ? putB36(buf, o, r.timestamp) : putAscii(buf, o, ts);
      buf[o++] = COMMA;
      if (r.schemaVersion !== undefined) o = putB36(buf, o, r.schemaVersion);
      buf[o++] = COMMA;
      o = putB36(buf, o, r.type.length);
      buf[o++] = COMMA;
      buf.set(type, o);
      o += type.length;
      o = putB36(buf, o, r.id.length);
      buf[o++] = COMMA;
      if (id === undefined) o = putAscii(buf, o, r.id);
      else {
        buf.set(id, o);
        o += id.length;
      }
      o = putB36(buf, o, metaChars);
      buf[o++] = COMMA;
      if (r.metadata !== undefined) {
        buf.set(r.metadata, o);
        o += r.metadata.length;
      }
      buf.set(r.data, o);
      o += r.data.length;
      if (o - start !== size) throw new Error(`record size ${o - start} != ${size}`);
      out.push([buf.subarray(start, o), buf.subarray(body, o)]);
    }
    return out;
  }
}

const corrupt = (what: string) => new CorruptionError(`a format-3 event record is damaged: ${what}`);

// The reader keeps its cursor in locals, not in module variables: no string is held after a read
// and no try/finally is needed to let it go. `num` returns the index after a number and leaves
// the number here.
let numRead = 0;

/** Reads a base-36 number of `value` at `p` ending with `end` (a comma or a colon) into `numRead`; returns the index after `end`. */
function num(value: string, p: number, end: number): number {
  const start = p;
  let n = 0;
  for (;;) {
    const c = value.charCodeAt(p++);
    if (c === end) break;
    const d = c <= 0x39 ? c - 0x30 : c - 0x57;
    // NaN (past the end of the value) fails this test too.
    if (!(d >= 0 && d < 36)) throw corrupt('a number is not base 36');
    n = n * 36 + d;
  }
  const digits = p - start - 1;
  if (digits === 0 || digits > 11) throw corrupt('a number has no digits or too many');
  numRead = n;
  return p;
}

/** The index `len` characters after `at`; throws if that runs past the end of `value`. */
function past(value: string, at: number, len: number): number {
  const end = at + len;
  if (end > value.length) throw corrupt('a field runs past the end');
  return end;
}

// The last stream name and type read, reused while they repeat (a stream read: always).
let lastName = '';
let lastType = '';

/**
 * What {@link decodeText} does with the payload: `parse` it (and the metadata); leave both
 * undefined (`none`: maintenance, `verify`); or put the payload's stored JSON text in `data`, as
 * it is, and parse only the metadata (`text`: a reader that passes JSON on without parsing it).
 */
export type PayloadMode = 'parse' | 'none' | 'text';

/** The fields of the header {@link readHeader} read last. */
const h = { name: '', version: 0, position: 0, timestamp: 0, schemaVersion: undefined as number | undefined, type: '', id: '', metaAt: 0, metaLen: 0 };

/**
 * Reads the header of `value` (a global value, or a stream value with its `stream` given) into
 * `h`; returns the index where the payload starts.
 */
function readHeader(value: string, stream: string | undefined): number {
  const first = value.charCodeAt(0);
  let p: number;
  if (first === TEXT_GLOBAL) {
    const at = num(value, 1, COLON);
    const n = numRead;
    p = past(value, at, n);
    h.name = n === lastName.length && value.startsWith(lastName, at) ? lastName : (lastName = value.slice(at, p));
  } else if (first === TEXT_BODY) {
    if (stream === undefined) throw new CorruptionError('a stream record was read where a global record belongs');
    h.name = stream;
    p = 0;
  } else {
    throw corrupt('no format-3 header');
  }
  if (value.charCodeAt(p++) !== TEXT_BODY) throw corrupt('no body header');
  p = num(value, p, COMMA);
  h.version = numRead;
  p = num(value, p, COMMA);
  h.position = numRead;
  if (value.charCodeAt(p) === TILDE) {
    const end = value.indexOf(',', p);
    if (end < 0) throw corrupt('the timestamp has no end');
    h.timestamp = Number(value.slice(p + 1, end));
    p = end + 1;
  } else {
    p = num(value, p, COMMA);
    h.timestamp = numRead;
  }
  if (value.charCodeAt(p) === COMMA) {
    p++;
    h.schemaVersion = undefined;
  } else {
    p = num(value, p, COMMA);
    h.schemaVersion = numRead;
  }
  const typeAt = num(value, p, COMMA);
  const typeLen = numRead;
  p = past(value, typeAt, typeLen);
  h.type = typeLen === lastType.length && value.startsWith(lastType, typeAt) ? lastType : (lastType = value.slice(typeAt, p));
  const idAt = num(value, p, COMMA);
  p = past(value, idAt, numRead);
  h.id = value.slice(idAt, p);
  h.metaAt = num(value, p, COMMA);
  h.metaLen = numRead;
  return past(value, h.metaAt, h.metaLen);
}

/**
 * Decodes a format-3 value (a global value, or a stream value with its `stream` given) into an
 * event. Damage raises {@link CorruptionError}, nothing else.
 */
export function decodeText(value: string, codec: PayloadCodec, stream: string | undefined, payload: PayloadMode = 'parse'): RecordedEvent {
  const at = readHeader(value, stream);
  let metadata: Record<string, unknown> | undefined;
  let data: unknown;
  if (payload !== 'none') {
    if (h.metaLen > 0) metadata = parseMeta(value.slice(h.metaAt, h.metaAt + h.metaLen));
    data = payload === 'parse' ? parsePayload(value, at, codec, h.name, h.type) : value.slice(at);
  }
  return { stream: h.name, version: h.version, position: h.position, type: h.type, id: h.id, timestamp: h.timestamp, data, metadata, schemaVersion: h.schemaVersion };
}

/**
 * Decodes a format-3 value into a {@link JsonTextEvent}: the payload's stored JSON text as it is,
 * one object per event (the server's catch-up path). Damage raises {@link CorruptionError}.
 */
export function decodeTextJson(value: string, stream: string | undefined): JsonTextEvent {
  const at = readHeader(value, stream);
  const metadata = h.metaLen > 0 ? parseMeta(value.slice(h.metaAt, h.metaAt + h.metaLen)) : undefined;
  return { stream: h.name, version: h.version, position: h.position, type: h.type, id: h.id, timestamp: h.timestamp, dataJson: value.slice(at), metadata, schemaVersion: h.schemaVersion };
}

function parseMeta(text: string): Record<string, unknown> {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (cause) {
    throw new CorruptionError('the metadata of an event record could not be decoded', cause);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw corrupt('the metadata is not an object');
  return m as Record<string, unknown>;
}

function parsePayload(value: string, at: number, codec: PayloadCodec, stream: string, type: string): unknown {
  const text = at === 0 ? value : value.slice(at);
  try {
    return codec === jsonCodec ? JSON.parse(text) : codec.decode(Buffer.from(text, 'utf8'), { stream, type });
  } catch (cause) {
    throw new CorruptionError('the payload of an event record could not be decoded', cause);
  }
}

/** A format-3 value held as bytes, as one string (no copy of the bytes first). */
export function textOf(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
}

/** Byte offset of the body in a format-3 global value held as bytes (`verify`'s twin check). */
export function textBodyOffset(b: Uint8Array): number {
  if (b[0] !== TEXT_GLOBAL) throw corrupt('no global header');
  let i = 1;
  let n = 0;
  for (;;) {
    if (i >= b.length || i > 12) throw corrupt('the name length has no end');
    const c = b[i++]!;
    if (c === COLON) break;
    const d = c <= 0x39 ? c - 0x30 : c - 0x57;
    if (!(d >= 0 && d < 36)) throw corrupt('a number is not base 36');
    n = n * 36 + d;
  }
  // Step over the name's n UTF-16 code units in UTF-8.
  let units = 0;
  while (units < n) {
    if (i >= b.length) throw corrupt('the name runs past the end');
    const c = b[i]!;
    const len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    units += len === 4 ? 2 : 1;
    i += len;
  }
  if (units !== n || i > b.length || b[i] !== TEXT_BODY) throw corrupt('no body after the name');
  return i;
}
