/**
 * Record format 1: a msgpack array `[1, stream, version, position, type, id, timestamp, data,
 * metadata, schemaVersion]`, the same bytes under the global and the stream key. Written by
 * Strand before format 2 (docs/design/0010-cpu-per-event.md, "Record format 2"); still read.
 * The encoder stays for the golden tests and the fixture that pins it.
 *
 * @module
 */
import { Packr } from 'msgpackr';
import type { PayloadCodec } from '../codec.js';
import { CorruptionError } from '../errors.js';
import type { RecordedEvent } from '../types.js';
import { recordedEvent } from './event.js';
import { type RecordFields, readRecordFast } from './format1-reader.js';

const RECORD_FORMAT = 1;
const envelope = new Packr({ useRecords: false, mapsAsObjects: true });

/** The stored form of an event before its payload is decoded. */
export interface StoredRecord {
  stream: string;
  version: number;
  position: number;
  type: string;
  id: string;
  timestamp: number;
  data: Uint8Array;
  metadata: Record<string, unknown> | undefined;
  schemaVersion: number | undefined;
}

/**
 * Encodes a record: `[format, stream, version, position, type, id, timestamp, data, metadata,
 * schemaVersion]` in msgpack. Pinned by golden tests.
 */
export function encodeRecordFormat1(r: StoredRecord): Uint8Array {
  return envelope.pack([
    RECORD_FORMAT,
    r.stream,
    r.version,
    r.position,
    r.type,
    r.id,
    r.timestamp,
    r.data,
    r.metadata ?? null,
    r.schemaVersion ?? null,
  ]);
}

/** Decodes a format-1 record into a {@link RecordedEvent}. */
export function decodeFormat1(bytes: Uint8Array, codec: PayloadCodec): RecordedEvent {
  return eventFrom(readRecordFast(bytes) ?? unpackRecord(bytes), codec);
}

/** Decodes a format-1 record with the generic msgpack decoder only (the reference the fast path is tested against). */
export function decodeFormat1Generic(bytes: Uint8Array, codec: PayloadCodec): RecordedEvent {
  return eventFrom(unpackRecord(bytes), codec);
}

/** The envelope through msgpackr: any metadata, and the corruption reports. */
function unpackRecord(bytes: Uint8Array): RecordFields {
  let a: unknown;
  try {
    a = envelope.unpack(bytes);
  } catch (cause) {
    throw new CorruptionError('an event record could not be decoded', cause);
  }
  if (!Array.isArray(a) || a[0] !== RECORD_FORMAT) throw new CorruptionError(`unknown event record format ${String(Array.isArray(a) ? a[0] : a)}`);
  return a as RecordFields;
}

function eventFrom(f: RecordFields, codec: PayloadCodec): RecordedEvent {
  const data = f[7];
  if (!(data instanceof Uint8Array)) throw new CorruptionError('an event record has no payload bytes');
  return recordedEvent(f[1], f[2], f[3], f[4], f[5], f[6], f[8] ?? undefined, f[9] ?? undefined, data, 0, data.length, codec);
}
