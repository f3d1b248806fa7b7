/**
 * The event object readers get (docs/design/0010-cpu-per-event.md, "Read path": a lazily decoded
 * payload was tried and dropped; a getter per event cost more in allocation and GC than the JSON
 * parse it saved).
 *
 * @module
 */
import { jsonCodec, type PayloadCodec } from '../codec.js';
import type { RecordedEvent } from '../types.js';

const utf8 = new TextDecoder();

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
    data = JSON.parse(Buffer.isBuffer(bytes) ? bytes.toString('utf8', dataStart, dataEnd) : utf8.decode(bytes.subarray(dataStart, dataEnd)));
  } else {
    data = codec.decode(bytes.subarray(dataStart, dataEnd), { stream, type });
  }
  return { stream, version, position, type, id, timestamp, data, metadata, schemaVersion };
}
