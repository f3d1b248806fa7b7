/**
 * How a client hands out the events of a subscription: batches as one async iterator, and decoded
 * events shared by subscriptions on overlapping patterns.
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import { decodeEvent, peekPosition } from '@strand/protocol';

/**
 * The events of successive batches as one async iterator, with one resolved promise per event:
 * an async generator's `yield` costs several promise turns per event, which on a catch-up of a
 * million events is most of the client's time after decoding.
 */
export class BatchedEvents implements AsyncIterableIterator<RecordedEvent> {
  private batch: readonly RecordedEvent[] = [];
  private index = 0;

  constructor(private readonly batches: AsyncGenerator<readonly RecordedEvent[]>) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<RecordedEvent> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.index < this.batch.length) return Promise.resolve({ value: this.batch[this.index++]!, done: false });
    return this.fill();
  }

  private async fill(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      // Asking for the next batch tells the generator this one was delivered (credits, cursor).
      const r = await this.batches.next();
      if (r.done === true) {
        this.batch = [];
        return { value: undefined, done: true };
      }
      if (r.value.length === 0) continue;
      this.batch = r.value;
      this.index = 1;
      return { value: r.value[0]!, done: false };
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.batch = [];
    await this.batches.return(undefined);
    return { value: undefined, done: true };
  }
}

/** Most decoded events {@link SharedEvents} keeps. */
const SHARED_EVENTS = 4096;

/**
 * Decoded events shared by a client's subscriptions: several subscriptions on overlapping
 * patterns receive the same event, and decode it once, as followers in process share one frozen
 * event from the log's ring. An entry is used only for the very same bytes (an event's position
 * names it, its bytes confirm it).
 */
export class SharedEvents {
  private readonly byPosition = new Map<number, { bytes: Buffer; event: RecordedEvent }>();

  decode(bytes: Uint8Array): RecordedEvent {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const position = peekPosition(b);
    const hit = this.byPosition.get(position);
    if (hit?.bytes.equals(b)) return hit.event;
    const event = Object.freeze(decodeEvent(b));
    if (this.byPosition.size >= SHARED_EVENTS) this.byPosition.delete(this.byPosition.keys().next().value!);
    this.byPosition.set(position, { bytes: b, event });
    return event;
  }
}
