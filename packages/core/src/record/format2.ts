/**
 * Record format 2: a binary envelope with fixed-width fields (docs/design/0010-cpu-per-event.md,
 * "Record format 2"; key layout: docs/design/0001-key-layout.md). Format 1 (a msgpack array,
 * `format1.ts`) stays readable; a record's first byte tells the two apart (format 1 starts 0x9a).
 *
 * ```
 * global value (key 0x20 u64 position):  0x02 | u16 nameLen | name (UTF-8) | body
 * stream value (key 0x30 name 0x00 u64):  body                     (the name is in the key)
 * body:  0  u8   0x03
 *        1  u8   flags: 1 id is a lowercase UUID (16 bytes), 2 metadata, 4 schemaVersion
 *        2  u64  version            10 u64 position        18 f64 timestamp (ms)
 *        26 u32  schemaVersion (0 when absent)              30 u16 typeLen
 *        32 type (UTF-8) | id: 16 bytes, or u16 len + UTF-8 | [u32 len + msgpack metadata] | data
 * ```
 * All integers big-endian. The stream value is the global value's body, byte for byte: a group
 * encodes each event once into one buffer and hands both keys views of it.
 *
 * @module
 */
import { CorruptionError } from '../errors.js';

/** First byte of a format-2 global record. */
export const GLOBAL_2 = 0x02;
/** First byte of a format-2 record body (the stream value). */
export const BODY_2 = 0x03;
const FLAG_UUID = 1;
const FLAG_META = 2;
const FLAG_SCHEMA = 4;
const HEADER = 32;

/** The fields of one record as the commit path has them (payload and metadata already encoded). */
export interface RecordParts {
  version: number;
  position: number;
  type: string;
  id: string;
  timestamp: number;
  /** Encoded metadata (msgpack), if any. */
  metadata: Uint8Array | undefined;
  schemaVersion: number | undefined;
  /** Encoded payload. */
  data: Uint8Array;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function putU16(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 8;
  b[o + 1] = n & 0xff;
}

function putU32(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 24;
  b[o + 1] = (n >>> 16) & 0xff;
  b[o + 2] = (n >>> 8) & 0xff;
  b[o + 3] = n & 0xff;
}

function putU64(b: Uint8Array, o: number, n: number): void {
  putU32(b, o, Math.floor(n / 0x1_0000_0000));
  putU32(b, o + 4, n >>> 0);
}

function putF64(b: Uint8Array, o: number, n: number): void {
  f64[0] = n;
  if (littleEndian) for (let i = 0; i < 8; i++) b[o + i] = f64Bytes[7 - i]!;
  else b.set(f64Bytes, o);
}

/** Reads a big-endian u16. */
export function getU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Reads a big-endian u32. */
export function getU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Reads a big-endian u64 below 2^53. */
export function getU64(b: Uint8Array, o: number): number {
  return getU32(b, o) * 0x1_0000_0000 + getU32(b, o + 4);
}

/** Reads a big-endian IEEE 754 double. */
export function getF64(b: Uint8Array, o: number): number {
  if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[o + i]!;
  else for (let i = 0; i < 8; i++) f64Bytes[i] = b[o + i]!;
  return f64[0]!;
}

/** ASCII codes of each byte's two hex digits, at `2 * byte` and `2 * byte + 1`. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX[2 * i] = h.charCodeAt(0);
  HEX[2 * i + 1] = h.charCodeAt(1);
}
/** A UUID's 36 characters are built here, then made one flat string in one call. */
const uuidChars = new Uint8Array(36).fill(0x2d);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const textEncoder = new TextEncoder();

/** True when `id` is a lowercase UUID, stored as its 16 bytes (upper case ids keep their spelling as strings). */
export function isUuid(id: string): boolean {
  return id.length === 36 && UUID.test(id);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

function putUuid(b: Uint8Array, o: number, id: string): void {
  let j = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    b[o + (j >> 1)] = (hexValue(id.charCodeAt(i)) << 4) | hexValue(id.charCodeAt(i + 1));
    i++;
    j += 2;
  }
}

/** Formats 16 bytes at `o` as a lowercase UUID. */
export function getUuid(b: Uint8Array, o: number): string {
  // A template literal of 16 pieces makes a rope that is flattened later, at a cost (measured
  // 5.7 µs/event in a projection catch-up); char codes into one scratch array make one string.
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (j === 8 || j === 13 || j === 18 || j === 23) j++;
    const v = 2 * b[o + i]!;
    uuidChars[j++] = HEX[v]!;
    uuidChars[j++] = HEX[v + 1]!;
  }
  return String.fromCharCode.apply(null, uuidChars as unknown as number[]);
}

/** UTF-8 bytes of short ASCII strings without a native call; others through TextEncoder. */
export function utf8Bytes(s: string): Uint8Array {
  const n = s.length;
  if (n <= 64) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return textEncoder.encode(s);
      out[i] = c;
    }
    return out;
  }
  return textEncoder.encode(s);
}

/**
 * Encodes a group's records into one buffer: for each record, its global value and, as a view
 * into it, its stream value. `name` is the stream name's UTF-8 bytes.
 */
export class RecordWriter {
  private readonly chunks: Array<{ name: Uint8Array; type: Uint8Array; id: Uint8Array | undefined; r: RecordParts; size: number }> = [];
  private total = 0;

  /**
   * Adds a record of `stream` (`name`: its UTF-8 bytes, the ones stored; `type`: the type's);
   * returns its index in what {@link RecordWriter.finish} returns.
   */
  add(_stream: string, name: Uint8Array, type: Uint8Array, r: RecordParts): number {
    const uuid = isUuid(r.id);
    const id = uuid ? undefined : textEncoder.encode(r.id);
    const size = 3 + name.length + HEADER + type.length + (uuid ? 16 : 2 + id!.length) + (r.metadata ? 4 + r.metadata.length : 0) + r.data.length;
    this.chunks.push({ name, type, id, r, size });
    this.total += size;
    return this.chunks.length - 1;
  }

  /** Writes every record added; returns `[global, stream]` value pairs, in order. */
  finish(): Array<[Uint8Array, Uint8Array]> {
    const buf = new Uint8Array(this.total);
    const out: Array<[Uint8Array, Uint8Array]> = [];
    let o = 0;
    for (const { name, type, id, r, size } of this.chunks) {
      const start = o;
      buf[o] = GLOBAL_2;
      putU16(buf, o + 1, name.length);
      buf.set(name, o + 3);
      o += 3 + name.length;
      const body = o;
      buf[o] = BODY_2;
      buf[o + 1] = (id === undefined ? FLAG_UUID : 0) | (r.metadata ? FLAG_META : 0) | (r.schemaVersion !== undefined ? FLAG_SCHEMA : 0);
      putU64(buf, o + 2, r.version);
      putU64(buf, o + 10, r.position);
      putF64(buf, o + 18, r.timestamp);
      putU32(buf, o + 26, r.schemaVersion ?? 0);
      putU16(buf, o + 30, type.length);
      buf.set(type, o + HEADER);
      o += HEADER + type.length;
      if (id === undefined) {
        putUuid(buf, o, r.id);
        o += 16;
      } else {
        putU16(buf, o, id.length);
        buf.set(id, o + 2);
        o += 2 + id.length;
      }
      if (r.metadata) {
        putU32(buf, o, r.metadata.length);
        buf.set(r.metadata, o + 4);
        o += 4 + r.metadata.length;
      }
      buf.set(r.data, o);
      o += r.data.length;
      if (o - start !== size) throw new Error(`record size ${o - start} != ${size}`);
      out.push([buf.subarray(start, o), buf.subarray(body, o)]);
    }
    return out;
  }
}

/** The fields of a format-2 body, payload and metadata still encoded. */
export interface BodyFields {
  version: number;
  position: number;
  timestamp: number;
  schemaVersion: number | undefined;
  /** Offsets into the body's buffer. */
  typeStart: number;
  typeEnd: number;
  id: string;
  metaStart: number;
  metaEnd: number;
  dataStart: number;
}

const corrupt = (what: string) => new CorruptionError(`a format-2 event record is damaged: ${what}`);

/** Offset of the body in a format-2 global value, and the name's bounds (`[3, offset)`). */
export function bodyOffset(b: Uint8Array): number {
  if (b.length < 3 || b[0] !== GLOBAL_2) throw corrupt('no global header');
  const o = 3 + getU16(b, 1);
  if (o + HEADER > b.length) throw corrupt('shorter than its header');
  return o;
}

/** Reads the fixed fields of the body starting at `o`; `decodeText` turns byte ranges into strings. */
export function readBody(b: Uint8Array, o: number, decodeText: (start: number, end: number) => string, out: BodyFields): void {
  if (o + HEADER > b.length || b[o] !== BODY_2) throw corrupt('no body header');
  const flags = b[o + 1]!;
  out.version = getU64(b, o + 2);
  out.position = getU64(b, o + 10);
  out.timestamp = getF64(b, o + 18);
  out.schemaVersion = flags & FLAG_SCHEMA ? getU32(b, o + 26) : undefined;
  const typeLen = getU16(b, o + 30);
  let p = o + HEADER;
  out.typeStart = p;
  out.typeEnd = p += typeLen;
  if (flags & FLAG_UUID) {
    if (p + 16 > b.length) throw corrupt('id past the end');
    out.id = getUuid(b, p);
    p += 16;
  } else {
    const n = getU16(b, p);
    if (p + 2 + n > b.length) throw corrupt('id past the end');
    out.id = decodeText(p + 2, p + 2 + n);
    p += 2 + n;
  }
  if (flags & FLAG_META) {
    const n = getU32(b, p);
    out.metaStart = p + 4;
    out.metaEnd = p += 4 + n;
  } else {
    out.metaStart = out.metaEnd = p;
  }
  if (p > b.length || out.typeEnd > b.length) throw corrupt('fields past the end');
  out.dataStart = p;
}
