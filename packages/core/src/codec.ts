/**
 * Payload codecs (how event data becomes bytes), stream heads and log metadata. The record
 * envelope around a payload is in `record/` (format 2, and format 1 still read).
 *
 * @module
 */
import { Packr } from 'msgpackr';
import { CorruptionError } from './errors.js';

/** What a codec is told about the event whose payload it encodes or decodes. */
export interface CodecContext {
  /** The event's stream. */
  readonly stream: string;
  /** The event's type. */
  readonly type: string;
}

/**
 * Turns event data into bytes and back. A log records its codec's `name` on creation and refuses
 * to open with a different one, so stored data always stays readable.
 */
export interface PayloadCodec {
  /** Stable name recorded in the store, e.g. `json` or `msgpack`. */
  readonly name: string;
  /** Encodes one event's data. */
  encode(data: unknown, context: CodecContext): Uint8Array;
  /** Decodes what {@link PayloadCodec.encode} produced. */
  decode(bytes: Uint8Array, context: CodecContext): unknown;
}

const utf8Decoder = new TextDecoder();

/** The default codec: UTF-8 JSON. Readable by any tool, a little larger and slower than msgpack. */
export const jsonCodec: PayloadCodec = {
  name: 'json',
  // Buffer.from takes small strings from a shared pool: cheaper than TextEncoder's own allocation.
  encode: (data) => Buffer.from(JSON.stringify(data), 'utf8'),
  decode: (bytes) => JSON.parse(utf8Decoder.decode(bytes)),
};

const payloadPackr = new Packr({ useRecords: false, moreTypes: false });

/** A binary codec based on msgpackr: smaller and faster than JSON; keeps `Date` and binary data. */
export const msgpackCodec: PayloadCodec = {
  name: 'msgpack',
  encode: (data) => payloadPackr.pack(data),
  decode: (bytes) => payloadPackr.unpack(bytes),
};

/** The codecs every log knows by name. */
export const builtInCodecs: ReadonlyMap<string, PayloadCodec> = new Map([
  [jsonCodec.name, jsonCodec],
  [msgpackCodec.name, msgpackCodec],
]);

const envelope = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * A stream head as stored: `[version, lastPosition, created, truncatedBefore, deleted, lastId,
 * truncatedThrough]` (the last one since issue 21; heads written before lack it).
 */
export interface StoredHead {
  version: number;
  lastPosition: number;
  created: number;
  truncatedBefore: number;
  deleted: boolean;
  lastId: string;
  /** Global position of the newest event truncation removed (0: none; `undefined`: truncated before this was recorded). */
  truncatedThrough?: number | undefined;
}

/** Encodes a stream head. */
export function encodeHead(h: StoredHead): Uint8Array {
  const fields: unknown[] = [h.version, h.lastPosition, h.created, h.truncatedBefore, h.deleted ? 1 : 0, h.lastId];
  if (h.truncatedThrough !== undefined && h.truncatedThrough > 0) fields.push(h.truncatedThrough);
  return envelope.pack(fields);
}

/** Decodes a stream head. */
export function decodeHead(bytes: Uint8Array): StoredHead {
  const a = envelope.unpack(bytes) as [number, number, number, number, number, string, number?];
  if (!Array.isArray(a) || a.length < 6) throw new CorruptionError('a stream head could not be decoded');
  const truncatedThrough = a[6] ?? (a[3] > 1 ? undefined : 0);
  return { version: a[0], lastPosition: a[1], created: a[2], truncatedBefore: a[3], deleted: a[4] === 1, lastId: a[5], truncatedThrough };
}

/** Generic msgpack helpers for small metadata values kept beside the log. */
export const meta = {
  encode: (value: unknown): Uint8Array => envelope.pack(value),
  decode: (bytes: Uint8Array): unknown => envelope.unpack(bytes),
};
