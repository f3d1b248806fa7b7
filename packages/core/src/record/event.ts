/**
 * The event object readers get (docs/design/0010-cpu-per-event.md, "Read path": a lazily decoded
 * payload was tried and dropped; a getter per event cost more in allocation and GC than the JSON
 * parse it saved).
 *
 * @module
 */
import { jsonCodec, type PayloadCodec } from '../codec.js';
import type { JsonTextEvent, RecordedEvent } from '../types.js';

const utf8 = new TextDecoder();

/** The UTF-8 text at `[start, end)` of `bytes` (a JSON payload as stored), no view object on the way. */
export function payloadText(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8', start, end) : utf8.decode(bytes.subarray(start, end));
}

/** Decodes the payload at `[dataStart, dataEnd)` of `bytes` and builds the event, one object. */
export function recordedEvent(
  stream: string,
  version: number,
  position: number,
  type: string,
  id: string,
  timestamp: number,
  metadata: Record<string, unknown> | undefined,
  schemaVersion: number | undefined,
  bytes: Uint8Array,
  dataStart: number,
  dataEnd: number,
  codec: PayloadCodec,
): RecordedEvent {
  let data: unknown;
  if (codec === jsonCodec) {
    // JSON straight from the record's bytes: no view object for the payload.
    data = JSON.parse(payloadText(bytes, dataStart, dataEnd));
  } else {
    data = codec.decode(bytes.subarray(dataStart, dataEnd), { stream, type });
  }
  return { stream, version, position, type, id, timestamp, data, metadata, schemaVersion };
}

/**
 * Builds a {@link JsonTextEvent} from a record's fields, the payload's JSON text taken from
 * `[dataStart, dataEnd)` of `bytes` as it is (the `json` codec only: the caller checks).
 */
export function jsonTextEvent(
  stream: string,
  version: number,
  position: number,
  type: string,
  id: string,
  timestamp: number,
  metadata: Record<string, unknown> | undefined,
  schemaVersion: number | undefined,
  bytes: Uint8Array,
  dataStart: number,
  dataEnd: number,
): JsonTextEvent {
  return { stream, version, position, type, id, timestamp, dataJson: payloadText(bytes, dataStart, dataEnd), metadata, schemaVersion };
}

/** A decoded event as a {@link JsonTextEvent}: its data stringified (other codecs, intercepted events, format 1). */
export function toJsonText(e: RecordedEvent): JsonTextEvent {
  return {
    stream: e.stream,
    version: e.version,
    position: e.position,
    type: e.type,
    id: e.id,
    timestamp: e.timestamp,
    dataJson: e.data === undefined ? '' : (JSON.stringify(e.data) ?? ''),
    metadata: e.metadata,
    schemaVersion: e.schemaVersion,
  };
}
