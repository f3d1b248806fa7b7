/**
 * The event object readers get: fields decoded, payload decoded on first access
 * (docs/design/0009-cpu-per-event.md, "Read path").
 *
 * @module
 */
import type { PayloadCodec } from '../codec.js';
import type { RecordedEvent } from '../types.js';

/**
 * An event whose payload is decoded on first access of `data` (and can be replaced by assigning
 * `data`, as upcasting interceptors do). Every field is an own enumerable property, so spreads,
 * `JSON.stringify` and deep equality see `data` like any other field.
 */
export function lazyEvent(
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
  shared = false,
): RecordedEvent {
  let decoded = false;
  let value: unknown;
  return {
    stream,
    version,
    position,
    type,
    id,
    timestamp,
    get data(): unknown {
      if (!decoded) {
        value = codec.decode(bytes.subarray(dataStart, dataEnd), { stream, type });
        decoded = true;
      }
      return value;
    },
    set data(v: unknown) {
      // A shared event (the live ring's, handed to every follower) stays read-only, as a frozen one.
      if (shared) throw new TypeError("Cannot assign to read only property 'data' of a shared event");
      value = v;
      decoded = true;
    },
    metadata,
    schemaVersion,
  };
}

