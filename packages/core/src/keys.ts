/**
 * The key layout of an event log inside any abstract-level store. Every key is bytes; the first
 * byte names the keyspace. Documented in docs/design/0001-key-layout.md: change it only with a
 * new format version and a golden test.
 *
 * @module
 */
import { encodeName } from './names.js';

/** First byte of each keyspace. 0x21 ('!') is left free for abstract-level sublevels. */
export const Space = {
  /** Log metadata: `0x10 utf8(name)`. */
  meta: 0x10,
  /** Events in global order: `0x20 u64(position)` -> record. */
  global: 0x20,
  /** Events by stream: `0x30 name 0x00 u64(version)` -> the same record. */
  stream: 0x30,
  /** Stream heads (metadata): `0x40 name` -> head. */
  head: 0x40,
  /** Event ids the caller gave, per stream: `0x50 name 0x00 utf8(id)` -> u64(version). */
  eventId: 0x50,
} as const;

const textEncoder = new TextEncoder();

/** Writes `n` (0 <= n < 2^53) as 8 big-endian bytes at `offset`. */
export function writeU64(target: Uint8Array, offset: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  target[offset] = hi >>> 24;
  target[offset + 1] = (hi >>> 16) & 0xff;
  target[offset + 2] = (hi >>> 8) & 0xff;
  target[offset + 3] = hi & 0xff;
  target[offset + 4] = lo >>> 24;
  target[offset + 5] = (lo >>> 16) & 0xff;
  target[offset + 6] = (lo >>> 8) & 0xff;
  target[offset + 7] = lo & 0xff;
}

/** Reads 8 big-endian bytes at `offset` as a number. */
export function readU64(source: Uint8Array, offset: number): number {
  const hi = ((source[offset]! << 24) | (source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!) >>> 0;
  const lo = ((source[offset + 4]! << 24) | (source[offset + 5]! << 16) | (source[offset + 6]! << 8) | source[offset + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

/** Key of a log metadata entry. */
export function metaKey(name: string): Uint8Array {
  const bytes = textEncoder.encode(name);
  const key = new Uint8Array(1 + bytes.length);
  key[0] = Space.meta;
  key.set(bytes, 1);
  return key;
}

/** Key of the event at a global position. */
export function globalKey(position: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = Space.global;
  writeU64(key, 1, position);
  return key;
}

/** Position encoded in a global key. */
export function positionOfGlobalKey(key: Uint8Array): number {
  return readU64(key, 1);
}

/** Encoded stream name, cached per call site: `0x30 name 0x00` prefix of a stream's event keys. */
export function streamPrefix(name: string): Uint8Array {
  const enc = encodeName(name);
  const key = new Uint8Array(enc.length + 2);
  key[0] = Space.stream;
  key.set(enc, 1);
  key[enc.length + 1] = 0x00;
  return key;
}

/** Key of version `version` of a stream, given its {@link streamPrefix}. */
export function streamKey(prefix: Uint8Array, version: number): Uint8Array {
  const key = new Uint8Array(prefix.length + 8);
  key.set(prefix, 0);
  writeU64(key, prefix.length, version);
  return key;
}

/** Key of a stream's head. */
export function headKey(name: string): Uint8Array {
  const enc = encodeName(name);
  const key = new Uint8Array(enc.length + 1);
  key[0] = Space.head;
  key.set(enc, 1);
  return key;
}

/**
 * Bounds of the head keys strictly below a hierarchy prefix ('' = the root): every stream whose
 * name starts with `prefix/`.
 */
export function headRangeBelow(prefix: string): { gte: Uint8Array; lt: Uint8Array } {
  if (prefix === '') return { gte: Uint8Array.of(Space.head), lt: Uint8Array.of(Space.head + 1) };
  const enc = encodeName(prefix);
  const gte = new Uint8Array(enc.length + 2);
  gte[0] = Space.head;
  gte.set(enc, 1);
  gte[enc.length + 1] = 0x01;
  const lt = gte.slice();
  lt[enc.length + 1] = 0x02;
  return { gte, lt };
}

/**
 * Key of a caller-given event id in its stream (`prefix` from {@link streamPrefix}): the stream
 * space's prefix with the id space's byte, then the id's UTF-8 bytes.
 */
export function eventIdKey(prefix: Uint8Array, id: string): Uint8Array {
  const bytes = textEncoder.encode(id);
  const key = new Uint8Array(prefix.length + bytes.length);
  key.set(prefix, 0);
  key[0] = Space.eventId;
  key.set(bytes, prefix.length);
  return key;
}

/** A version as the value of an event-id key. */
export function encodeVersion(version: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, version);
  return out;
}
