/**
 * The most recent committed events, shared by every live follower so that following the head of
 * the log costs no store reads and no per-subscriber buffer (docs/design/0003-subscriptions.md).
 *
 * @module
 */
import type { PayloadCodec } from './codec.js';
import { decodeRecord, decodeRecordJson } from './record/decode.js';
import type { JsonTextEvent, RecordedEvent } from './types.js';

interface Slot {
  position: number;
  bytes: Uint8Array;
  event: RecordedEvent | undefined;
  /** The event with its payload as JSON text, for JSON followers (`followJson`). */
  json: JsonTextEvent | undefined;
}

/** A fixed-size ring of the last `capacity` committed events, indexed by global position. */
export class LiveRing {
  private readonly slots: Array<Slot | undefined>;
  /** Positions at or below this were committed before the ring existed. */
  private readonly floor: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    lastPosition: number,
  ) {
    this.slots = new Array(capacity);
    this.floor = lastPosition;
    this.last = lastPosition;
  }

  /** Records a committed event. Positions must arrive in order. */
  push(position: number, bytes: Uint8Array): void {
    // Keep the bytes, not the appender's data object, which the appender may still mutate.
    this.slots[position % this.capacity] = { position, bytes, event: undefined, json: undefined };
    this.last = position;
  }

  /** Drops the event at `position` (its history was truncated): followers then read the store. */
  forget(position: number): void {
    const i = position % this.capacity;
    if (this.slots[i]?.position === position) this.slots[i] = undefined;
  }

  /** True if the event at `position` is in the ring. */
  has(position: number): boolean {
    if (position <= this.floor || position > this.last || position <= this.last - this.capacity) return false;
    return this.slots[position % this.capacity]?.position === position;
  }

  /** The event at `position` (which must be {@link LiveRing.has}), decoded once and shared. */
  event(position: number, codec: PayloadCodec): RecordedEvent {
    const slot = this.slots[position % this.capacity]!;
    if (slot.event === undefined) slot.event = Object.freeze(decodeRecord(slot.bytes, codec));
    return slot.event;
  }

  /** The event at `position` (which must be {@link LiveRing.has}) with its payload as JSON text, built once and shared. */
  jsonEvent(position: number, codec: PayloadCodec): JsonTextEvent {
    const slot = this.slots[position % this.capacity]!;
    if (slot.json === undefined) slot.json = Object.freeze(decodeRecordJson(slot.bytes, codec));
    return slot.json;
  }
}
