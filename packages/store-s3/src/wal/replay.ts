/**
 * WAL replay: reads WAL slots in order from a replay point (a writer at open, a follower at every
 * poll) and claims the first free slot with a fence object (a writer at open)
 * (docs/design/0005-s3-engine.md, "Several WAL PUTs in flight").
 *
 * @module
 */
import { CorruptionError } from '@strand/core';
import { FencedError } from '../errors.js';
import type { ObjectStore } from '../object-store/types.js';
import { PreconditionFailedError } from '../object-store/types.js';
import type { WalBatch, WalObject } from './format.js';
import type { WalSegment } from './segment.js';
import { decodeSegment, segmentListStart, segmentRangeOf } from './segment.js';
import { UnsupportedWalFormatError, WAL_WINDOW_MAX, decodeWal, encodeWal, walIdOf, walKey } from './format.js';

/** WAL objects fetched ahead of the one being applied: replay of a long tail is latency-bound. */
const READ_AHEAD = 32;

/** A segment a LIST found, and the slots its key says it covers. */
interface ListedSegment {
  key: string;
  range: { first: number; last: number };
}

/** Reads the WAL of one store (one prefix). */
export class WalReader {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
  ) {}

  /**
   * A decoded WAL object, or undefined for a torn one (never acknowledged). An intact object of a
   * newer format throws: it is not torn, and skipping or deleting it would lose acknowledged writes.
   */
  tryDecode(bytes: Uint8Array, slot: number): WalObject | undefined {
    try {
      return decodeWal(bytes, walKey(this.prefix, slot));
    } catch (err) {
      if (err instanceof CorruptionError && !(err instanceof UnsupportedWalFormatError)) return undefined;
      throw err;
    }
  }

  /** The object in a slot: undefined when the slot is empty or torn. */
  async readSlot(slot: number): Promise<WalObject | undefined> {
    const bytes = await this.store.get(walKey(this.prefix, slot));
    return bytes === undefined ? undefined : this.tryDecode(bytes, slot);
  }

  /**
   * Replays WAL slots from `from` on, in slot order, and returns the first slot it did not
   * consume. Replay stops at the first missing or torn slot: with several WAL PUTs in flight a
   * later slot can be stored while an earlier one never is, and nothing after the gap was
   * acknowledged. A fence object makes replay jump to its resume slot. `writerEpoch` (a writer
   * replaying at open) fences the replayer when a newer writer's object turns up.
   */
  async replay(from: number, apply: (batches: WalBatch[], slot: number) => void, writerEpoch?: number): Promise<number> {
    const segmentsListed = await this.store.list(`${this.prefix}walseg/`, { startAfter: segmentListStart(this.prefix, from) });
    const segments = segmentsListed
      .map((o) => ({ key: o.key, range: segmentRangeOf(this.prefix, o.key) }))
      .filter((s): s is ListedSegment => s.range !== undefined && s.range.last >= from)
      .sort((a, b) => a.range.first - b.range.first || b.range.last - a.range.last);
    // The run of segments from `from` on covers slots whose objects are there: a segment copies
    // acknowledged WAL objects, which stay until GC, and GC deletes none at or after the replay
    // point. So only the slots after the run are LISTed (docs/design/0005, "Bounded replay"), and
    // the segments' GETs go out at once, beside that LIST.
    let covered = from - 1;
    for (const s of segments) {
      if (s.range.first > covered + 1) break;
      covered = Math.max(covered, s.range.last);
    }
    const slots: number[] = [];
    for (let s = from; s <= covered; s++) slots.push(s);
    let listed = false;
    const tail = this.store.list(`${this.prefix}wal/`, { startAfter: walKey(this.prefix, covered) }).then((objects) => {
      for (const id of objects
        .map((o) => walIdOf(this.prefix, o.key))
        .filter((id): id is number => id !== undefined && id > covered)
        .sort((a, b) => a - b)) {
        slots.push(id);
      }
      listed = true;
    });
    tail.catch(() => undefined);
    let segmentAt = 0;
    /** The segment covering `slot` that reaches furthest, if any (asked in slot order). */
    const segmentFor = (slot: number): ListedSegment | undefined => {
      let best: ListedSegment | undefined;
      for (let k = segmentAt; k < segments.length && (segments[k] as ListedSegment).range.first <= slot; k++) {
        const s = segments[k] as ListedSegment;
        if (s.range.last >= slot && (!best || s.range.last > best.range.last)) best = s;
      }
      while (segmentAt < segments.length && (segments[segmentAt] as ListedSegment).range.last < slot) segmentAt++;
      return best;
    };
    let next = from;
    let fenceEpoch = 0;
    const pending = new Map<number, Promise<WalObject | undefined>>();
    // Read-ahead: up to READ_AHEAD requests beyond the slot being applied (a segment's GET reads
    // many slots); `outstanding` holds the index in `slots` of the last slot each one covers.
    const outstanding: number[] = [];
    let ahead = 0;
    for (let i = 0; ; i++) {
      if (i >= slots.length) {
        if (listed) break;
        await tail;
        if (i >= slots.length) break;
      }
      const slot = slots[i] as number;
      if (slot < next) continue; // skipped by a fence
      if (slot > next) break; // a gap: the log ends here
      while (outstanding.length > 0 && (outstanding[0] as number) < i) outstanding.shift();
      if (ahead < i) ahead = i;
      while (outstanding.length < READ_AHEAD && ahead < slots.length) {
        const first = slots[ahead] as number;
        const segment = segmentFor(first);
        if (segment) {
          const objects = this.readSegment(segment.key, segment.range.first);
          let j = ahead;
          for (; j < slots.length && (slots[j] as number) <= segment.range.last; j++) {
            const s = slots[j] as number;
            // A segment missing or damaged, or without this slot: the slot's own object instead.
            const p = objects.then((m) => m?.get(s) ?? this.readSlot(s));
            p.catch(() => undefined);
            pending.set(s, p);
          }
          outstanding.push(j - 1);
          ahead = j;
        } else {
          const p = this.readSlot(first);
          p.catch(() => undefined);
          pending.set(first, p);
          outstanding.push(ahead);
          ahead++;
        }
      }
      const obj = await pending.get(slot);
      pending.delete(slot);
      if (!obj) break; // torn: never acknowledged, and neither is anything after it
      if (writerEpoch !== undefined && obj.epoch > writerEpoch) {
        throw new FencedError('A newer writer owns this store', { epoch: writerEpoch, by: obj.epoch });
      }
      // docs/design/0005, "Several WAL PUTs in flight": no object of an older epoch after a fence.
      if (obj.epoch < fenceEpoch) {
        throw new CorruptionError(`${walKey(this.prefix, slot)}: epoch ${obj.epoch} after a fence of epoch ${fenceEpoch}`);
      }
      if (obj.resumeAt) fenceEpoch = obj.epoch;
      apply(obj.batches, slot);
      next = obj.resumeAt || slot + 1;
    }
    await tail; // a failed LIST fails the replay, even when the log ended before its slots
    return next;
  }

  /**
   * The WAL objects a segment holds, by slot, decoded; undefined when the segment is missing or
   * damaged (replay then reads those slots' own objects). An object in it that does not decode is
   * left out, so that slot's own object is read.
   */
  private async readSegment(key: string, first: number): Promise<Map<number, WalObject> | undefined> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.store.get(key);
    } catch {
      return undefined; // the slots' own GETs retry, and fail if the store is down
    }
    if (bytes === undefined) return undefined;
    let segment: WalSegment;
    try {
      segment = decodeSegment(bytes, key);
    } catch (err) {
      if (err instanceof CorruptionError) return undefined;
      throw err;
    }
    if (segment.first !== first) return undefined;
    const out = new Map<number, WalObject>();
    segment.objects.forEach((o, i) => {
      const obj = this.tryDecode(o, first + i);
      if (obj) out.set(first + i, obj);
    });
    return out;
  }

  /**
   * Follows the WAL from slot `from` by GETs of the slots themselves, no LIST: a follower's poll.
   * It reads the next `window` slots at once (a follower passes how many the last poll found,
   * plus one); while slots are found it fetches further ones ahead (doubling, up to
   * {@link READ_AHEAD}), applies them in slot order and stops, like {@link WalReader.replay},
   * at the first missing or torn slot; a fence object makes it jump to its resume slot. An
   * up-to-date follower's poll is one GET (a 404), so a new WAL object is seen one GET after the
   * poll that follows it (docs/design/0005, "Followers"). Returns the first slot not consumed.
   */
  async follow(from: number, apply: (batches: WalBatch[], slot: number) => void, firstWindow = 1): Promise<number> {
    let next = from;
    let window = Math.max(1, Math.min(READ_AHEAD, firstWindow));
    let fenceEpoch = 0;
    const pending = new Map<number, Promise<WalObject | undefined>>();
    let requestedUpTo = from - 1;
    const request = (first: number, last: number): void => {
      for (let s = Math.max(first, requestedUpTo + 1); s <= last; s++) {
        const p = this.readSlot(s);
        p.catch(() => undefined);
        pending.set(s, p);
      }
      requestedUpTo = Math.max(requestedUpTo, last);
    };
    request(from, from + window - 1);
    for (;;) {
      const obj = await pending.get(next);
      if (!obj) return next; // the log ends here (for now)
      if (obj.epoch < fenceEpoch) {
        throw new CorruptionError(`${walKey(this.prefix, next)}: epoch ${obj.epoch} after a fence of epoch ${fenceEpoch}`);
      }
      if (obj.resumeAt) fenceEpoch = obj.epoch;
      apply(obj.batches, next);
      const after = obj.resumeAt || next + 1;
      for (const s of pending.keys()) if (s < after) pending.delete(s);
      if (after > requestedUpTo) {
        // Everything asked for was there: ask for more at once, twice as many.
        window = Math.min(READ_AHEAD, window * 2);
        request(after, after + window - 1);
      }
      next = after;
    }
  }

  /**
   * Claims the first slot replay did not consume with a fence object: the previous writer's PUT
   * of that slot then hits 412, finds our epoch, and it stops. Objects the previous writer stored
   * meanwhile continue its log and are applied first; a torn object is deleted (its writer
   * stopped at it and never acknowledged it or anything after it) so the slot can be claimed.
   * The fence object tells replay to resume `WAL_WINDOW_MAX` slots later, past every slot the
   * previous writer may still fill. Returns this writer's first slot.
   */
  async claim(from: number, epoch: number, apply: (batches: WalBatch[]) => void): Promise<number> {
    let slot = from;
    for (;;) {
      const resumeAt = slot + WAL_WINDOW_MAX;
      try {
        await this.store.put(walKey(this.prefix, slot), encodeWal(epoch, [], resumeAt), { ifNoneMatch: '*' });
        return resumeAt;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const bytes = await this.store.get(walKey(this.prefix, slot));
      if (bytes === undefined) continue;
      const obj = this.tryDecode(bytes, slot);
      if (obj === undefined) {
        await this.store.delete(walKey(this.prefix, slot));
        continue;
      }
      if (obj.epoch > epoch) throw new FencedError('Fenced while opening', { epoch, by: obj.epoch });
      apply(obj.batches);
      slot = obj.resumeAt || slot + 1;
    }
  }
}
