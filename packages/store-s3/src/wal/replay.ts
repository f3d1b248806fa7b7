/**
 * WAL replay: reads WAL slots in order from a replay point (a writer at open, a follower at every
 * poll) and claims the first free slot with a fence object (a writer at open)
 * (docs/design/0005-s3-engine.md, "Several WAL PUTs in flight").
 *
 * @module
 */
import { CorruptionError, FencedError } from '../errors.js';
import type { ObjectStore } from '../object-store/types.js';
import { PreconditionFailedError } from '../object-store/types.js';
import type { WalBatch, WalObject } from './format.js';
import { UnsupportedWalFormatError, WAL_WINDOW_MAX, decodeWal, encodeWal, walIdOf, walKey } from './format.js';

/** WAL objects fetched ahead of the one being applied: replay of a long tail is latency-bound. */
const READ_AHEAD = 32;

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
    const listed = await this.store.list(`${this.prefix}wal/`, { startAfter: walKey(this.prefix, from - 1) });
    const slots = listed
      .map((o) => walIdOf(this.prefix, o.key))
      .filter((id): id is number => id !== undefined && id >= from)
      .sort((a, b) => a - b);
    let next = from;
    let fenceEpoch = 0;
    const pending = new Map<number, Promise<WalObject | undefined>>();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (slot < next) continue; // skipped by a fence
      if (slot > next) break; // a gap: the log ends here
      for (let j = i; j < Math.min(slots.length, i + READ_AHEAD); j++) {
        const ahead = slots[j] as number;
        if (!pending.has(ahead)) {
          const p = this.readSlot(ahead);
          p.catch(() => undefined);
          pending.set(ahead, p);
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
    return next;
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
