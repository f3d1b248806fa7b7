/**
 * Decoding stored event records of any format into {@link RecordedEvent}s
 * (docs/design/0010-cpu-per-event.md, "Record format 2", "Record format 3" and "Read path").
 *
 * @module
 */
import type { PayloadCodec } from '../codec.js';
import { jsonCodec, meta } from '../codec.js';
import { CorruptionError } from '../errors.js';
import type { JsonTextEvent, RecordedEvent } from '../types.js';
import { jsonTextEvent, recordedEvent, toJsonText } from './event.js';
import { decodeFormat1 } from './format1.js';
import { BODY_2, type BodyFields, bodyOffset, GLOBAL_2, readBody } from './format2.js';
import { decodeText, decodeTextJson, TEXT_BODY, TEXT_GLOBAL, textBodyOffset, textOf } from './format3.js';

const utf8 = new TextDecoder();
let b: Uint8Array = new Uint8Array(0);

function text(start: number, end: number): string {
  const len = end - start;
  // Names, types and ids are short and nearly always ASCII: build them without a native call.
  if (len <= 64) {
    for (let i = start; i < end; i++) if (b[i]! >= 0x80) return utf8.decode(b.subarray(start, end));
    return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  return utf8.decode(b.subarray(start, end));
}

/** The last string read for one field, reused while the bytes repeat (a stream read: always). */
class Interned {
  private bytes = new Uint8Array(0);
  private str = '';

  get(start: number, end: number): string {
    const len = end - start;
    const prev = this.bytes;
    if (prev.length === len) {
      let i = 0;
      while (i < len && prev[i] === b[start + i]) i++;
      if (i === len) return this.str;
    }
    this.str = text(start, end);
    this.bytes = b.slice(start, end);
    return this.str;
  }
}

const lastStream = new Interned();
const lastType = new Interned();
const fields: BodyFields = { version: 0, position: 0, timestamp: 0, schemaVersion: undefined, typeStart: 0, typeEnd: 0, id: '', metaStart: 0, metaEnd: 0, dataStart: 0 };

function decodeMeta(bytes: Uint8Array, start: number, end: number): Record<string, unknown> | undefined {
  if (start === end) return undefined;
  try {
    return meta.decode(bytes.subarray(start, end)) as Record<string, unknown>;
  } catch (cause) {
    throw new CorruptionError('the metadata of an event record could not be decoded', cause);
  }
}

/**
 * Reads the envelope of a format-2 record into `fields`; returns the stream name. A format-2
 * stream value carries no name: `stream` (from its key) must be given then. `b` must be `bytes`.
 */
function readEnvelope(bytes: Uint8Array, first: number, stream: string | undefined): string {
  let name: string;
  let o: number;
  if (first === GLOBAL_2) {
    o = bodyOffset(bytes);
    name = lastStream.get(3, o);
  } else {
    if (stream === undefined) throw new CorruptionError('a stream record was read where a global record belongs');
    name = stream;
    o = 0;
  }
  readBody(bytes, o, text, fields);
  return name;
}

/**
 * Decodes a stored record into an event: a string is a format-3 value (read as `utf8`); bytes are
 * told apart by their first byte (format 1, 2 or 3). Stream values of formats 2 and 3 carry no
 * name: `stream` (from its key) must be given then; for other records it is ignored.
 */
export function decodeRecord(value: Uint8Array | string, codec: PayloadCodec, stream?: string): RecordedEvent {
  if (typeof value === 'string') return decodeText(value, codec, stream);
  const bytes = value;
  const first = bytes[0];
  if (first === TEXT_GLOBAL || first === TEXT_BODY) return decodeText(textOf(bytes), codec, stream);
  if (first !== GLOBAL_2 && first !== BODY_2) return decodeFormat1(bytes, codec);
  b = bytes;
  try {
    const name = readEnvelope(bytes, first, stream);
    const type = lastType.get(fields.typeStart, fields.typeEnd);
    const metadata = decodeMeta(bytes, fields.metaStart, fields.metaEnd);
    return recordedEvent(name, fields.version, fields.position, type, fields.id, fields.timestamp, metadata, fields.schemaVersion, bytes, fields.dataStart, bytes.length, codec);
  } finally {
    b = empty;
  }
}

/**
 * Decodes a stored record into a {@link JsonTextEvent}: a format-3 record (a string, or bytes), or
 * a format-2 record with the `json` codec, gives the payload's stored text as it is (never
 * parsed); otherwise the decoded event with its
 * data stringified. `stream` as for {@link decodeRecord}.
 */
export function decodeRecordJson(value: Uint8Array | string, codec: PayloadCodec, stream?: string): JsonTextEvent {
  if (typeof value === 'string' || value[0] === TEXT_GLOBAL || value[0] === TEXT_BODY) {
    // Format 3 (JSON codec only): the payload is the value's tail, taken as it is.
    return decodeTextJson(typeof value === 'string' ? value : textOf(value), stream);
  }
  const bytes = value;
  const first = bytes[0];
  if (codec !== jsonCodec || (first !== GLOBAL_2 && first !== BODY_2)) return toJsonText(decodeRecord(bytes, codec, stream));
  b = bytes;
  try {
    const name = readEnvelope(bytes, first, stream);
    const type = lastType.get(fields.typeStart, fields.typeEnd);
    const metadata = decodeMeta(bytes, fields.metaStart, fields.metaEnd);
    return jsonTextEvent(name, fields.version, fields.position, type, fields.id, fields.timestamp, metadata, fields.schemaVersion, bytes, fields.dataStart, bytes.length);
  } finally {
    b = empty;
  }
}

const empty = new Uint8Array(0);

/** The identifying fields of a record of either format, without its payload. */
export interface RecordKey {
  /** The stream name (format-2 stream values: the `stream` given). */
  stream: string;
  version: number;
  position: number;
  /** The event id. */
  id: string;
}

const raw: PayloadCodec = { name: 'raw', encode: (d) => d as Uint8Array, decode: (x) => x };

/** Stream, version, position and id of a record (maintenance and `verify`), payload untouched. */
export function recordKey(value: Uint8Array | string, stream?: string): RecordKey {
  const first = typeof value === 'string' ? value.charCodeAt(0) : value[0];
  const e = first === TEXT_GLOBAL || first === TEXT_BODY ? decodeText(typeof value === 'string' ? value : textOf(value), raw, stream, 'none') : decodeRecord(value, raw, stream);
  return { stream: e.stream, version: e.version, position: e.position, id: e.id };
}

/** The format of a stored record: 1 (msgpack array), 2 (binary) or 3 (text); 'global' or 'stream' value. */
export function recordFormat(bytes: Uint8Array): 1 | '2-global' | '2-stream' | '3-global' | '3-stream' {
  switch (bytes[0]) {
    case GLOBAL_2:
      return '2-global';
    case BODY_2:
      return '2-stream';
    case TEXT_GLOBAL:
      return '3-global';
    case TEXT_BODY:
      return '3-stream';
    default:
      return 1;
  }
}

/**
 * The bytes a global record's stream twin holds: the whole value (format 1) or its body (formats
 * 2 and 3). Throws {@link CorruptionError} if the value is damaged.
 */
export function twinBytes(global: Uint8Array): Uint8Array {
  switch (global[0]) {
    case GLOBAL_2:
      return global.subarray(bodyOffset(global));
    case TEXT_GLOBAL:
      return global.subarray(textBodyOffset(global));
    default:
      return global;
  }
}
