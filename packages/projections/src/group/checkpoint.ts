/**
 * The consumer group's checkpoint as the state machine sees it: the entries it holds (a low
 * watermark plus the small set of streams not done below it) and {@link CheckpointChanges}, which
 * tracks what changed since the last write and plans the next one. Writing the plan is the
 * coordinator's (`checkpoint-store.ts`). Design: docs/design/0011-consumer-groups.md ("Checkpoint").
 *
 * @module
 */
import type { GroupParkedStream } from './delivery.js';

/** A checkpoint entry: a stream with work in flight, pending or parked. */
export interface CheckpointEntry {
  /** Last acknowledged (or skipped) version. */
  acked: number;
  /** Set when the stream is parked. */
  parked?: GroupParkedStream;
}

/**
 * The durable checkpoint: a low watermark plus the small set of streams not done below it.
 * @public
 */
export interface GroupCheckpoint {
  /** Every matching event at or below this position is acknowledged or parked, except the streams listed. */
  watermark: number;
  /** Coordinator incarnation (lease epochs of a new incarnation never repeat an old one's). */
  incarnation: number;
  /** Streams with unacknowledged events at or below the watermark, or parked. */
  streams: Map<string, CheckpointEntry>;
}

/** A checkpoint entry as restored: with the stream's last event at or below the watermark. */
export interface RestoredEntry extends CheckpointEntry {
  /** Version of the stream's last event at or below the watermark. */
  known: number;
  /** Its position. */
  knownPosition: number;
}

/** The writes that bring the durable checkpoint up to date. */
export interface CheckpointPlan {
  /** The watermark to store. */
  watermark: number;
  /** Entries to write. */
  puts: Array<[string, CheckpointEntry]>;
  /** Entries to delete. */
  dels: string[];
}

/**
 * The streams whose checkpoint entry changed since the last plan, and the streams whose entry may
 * be in the durable checkpoint, so that a stream that came and went between two writes never
 * reaches the store and a failed plan is written again whole with the next one.
 */
export class CheckpointChanges {
  private readonly dirty = new Set<string>();
  /** Streams whose entry may be in the durable checkpoint (a superset: a del of a missing key is harmless). */
  private readonly onDisk = new Set<string>();

  /** A stream restored from the durable checkpoint (its entry is there). */
  restored(stream: string): void {
    this.onDisk.add(stream);
  }

  /** A stream's entry changed (or the stream left the active set). */
  changed(stream: string): void {
    this.dirty.add(stream);
  }

  /** Streams changed since the last plan. */
  get count(): number {
    return this.dirty.size;
  }

  /**
   * The writes for the changed streams: `entryOf` gives a stream's entry, or undefined once it
   * left the active set (deleted, if it may be on disk). Pass the plan to {@link failed} if they fail.
   */
  plan(watermark: number, entryOf: (stream: string) => CheckpointEntry | undefined): CheckpointPlan {
    const puts: Array<[string, CheckpointEntry]> = [];
    const dels: string[] = [];
    for (const name of this.dirty) {
      const entry = entryOf(name);
      if (entry === undefined) {
        // A stream that came and went between two writes never reaches the store.
        if (this.onDisk.delete(name)) dels.push(name);
      } else {
        puts.push([name, entry]);
        this.onDisk.add(name);
      }
    }
    this.dirty.clear();
    return { watermark, puts, dels };
  }

  /** A plan's writes failed: its streams are written again with the next plan. */
  failed(plan: CheckpointPlan): void {
    for (const [name] of plan.puts) this.dirty.add(name);
    for (const name of plan.dels) {
      this.dirty.add(name);
      this.onDisk.add(name);
    }
  }
}
