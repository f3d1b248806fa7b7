/**
 * A consumer group's durable checkpoint in the log's store (the sublevel `group-<name>`): opening
 * it (restoring each listed stream's pending range, and the acks committed with their effects),
 * writing the state machine's plans, and the exactly-once `x:<stream>:<version>` keys that a
 * commit hook writes in the same batch as an ack's effects and that a checkpoint write deletes once
 * its own entry covers them. Design: docs/design/0011-consumer-groups.md ("Checkpoint",
 * "Delivery guarantees").
 *
 * @module
 */
import { type EventLog, InvalidArgumentError, type Sublevel } from '@strand/core';
import { GROUP_CATALOG } from './admin.js';
import type { CheckpointEntry, CheckpointPlan, RestoredEntry } from './checkpoint.js';

/** Where a new group starts. Ignored when the group already has a checkpoint. */
export type GroupStart = 'beginning' | 'end' | { position: number };

const pad = (v: number) => v.toString().padStart(16, '0');
const FORMAT = 1;

interface SavedState {
  format: number;
  pattern: string;
  watermark: number;
  incarnation: number;
  /** Written by `close`: no member of this incarnation can still hold a lease. */
  clean?: boolean;
}

/** What {@link CheckpointStore.open} restores. */
export interface RestoredCheckpoint {
  /** Every matching event at or below it has been seen by the group. */
  watermark: number;
  /** The streams not done at or below the watermark, or parked. */
  streams: Map<string, RestoredEntry>;
  /** The group existed and its last coordinator did not close cleanly (members may still hold leases). */
  unclean: boolean;
}

/** One group's checkpoint in the log's store, for the incarnation that opened it. */
export class CheckpointStore {
  /** Effects being committed with an ack: the first effect event's id, and the ack it carries. */
  private readonly marks = new Map<string, { stream: string; version: number }>();

  private constructor(
    private readonly meta: Sublevel,
    private readonly pattern: string,
    /** This coordinator's incarnation (one more than the last one stored). */
    readonly incarnation: number,
    /** Exactly-once ack keys written by commits, deleted once the checkpoint covers them. */
    private readonly xKeys: Map<string, number[]>,
  ) {}

  /**
   * Opens a group's checkpoint (a new one at `start`), restores it, and stores the next
   * incarnation and the group in the catalog. Throws `InvalidArgumentError` if the group exists
   * with another pattern.
   */
  static async open(log: EventLog, name: string, pattern: string, start: GroupStart): Promise<{ store: CheckpointStore; restored: RestoredCheckpoint }> {
    const meta = log.sublevel(`group-${name}`);
    const saved = (await meta.get('state')) as SavedState | undefined;
    if (saved !== undefined && saved.pattern !== pattern) {
      throw new InvalidArgumentError(`Group ${name} exists with pattern ${saved.pattern}, not ${pattern}. Use another name for another pattern.`);
    }
    let watermark = saved?.watermark ?? startPosition(log, start);
    const incarnation = (saved?.incarnation ?? 0) + 1;
    const entries = new Map<string, CheckpointEntry>();
    const x = new Map<string, number>();
    for await (const [key, value] of meta.iterator({ gte: 's:', lt: 's;' })) entries.set((key as string).slice(2), value as CheckpointEntry);
    const xKeys = new Map<string, number[]>();
    for await (const key of meta.keys({ gte: 'x:', lt: 'x;' })) {
      const k = key as string;
      const stream = k.slice(2, k.length - 17);
      const version = Number(k.slice(k.length - 16));
      x.set(stream, Math.max(x.get(stream) ?? 0, version));
      xKeys.set(stream, [...(xKeys.get(stream) ?? []), version]);
    }
    const streams = new Map<string, RestoredEntry>();
    for (const stream of new Set([...entries.keys(), ...x.keys()])) {
      const entry = entries.get(stream);
      // An ack committed with its effects counts even if the checkpoint never saw the stream.
      const acked = Math.max(entry?.acked ?? 0, x.get(stream) ?? 0);
      const [known, knownPosition] = await lastAtOrBelow(log, stream, watermark, acked);
      streams.set(stream, { acked, parked: entry?.parked, known, knownPosition });
    }
    watermark = Math.max(0, watermark);
    await meta.put('state', { format: FORMAT, pattern, watermark, incarnation } satisfies SavedState);
    await log.sublevel(GROUP_CATALOG).put(name, { name, pattern });
    const store = new CheckpointStore(meta, pattern, incarnation, xKeys);
    return { store, restored: { watermark, streams, unclean: saved !== undefined && saved.clean !== true } };
  }

  /**
   * Adds the log commit hook that writes `x:<stream>:<version>` in the same atomic batch as the
   * effects {@link mark}ed for an ack. Returns its remover.
   */
  attach(log: EventLog, name: string): () => void {
    return log.addCommitHook({
      name: `group:${name}`,
      onCommit: (events, tx) => {
        if (this.marks.size === 0) return;
        for (const e of events) {
          const mark = this.marks.get(e.id);
          if (mark === undefined) continue;
          this.marks.delete(e.id);
          tx.put(this.meta, `x:${mark.stream}:${pad(mark.version)}`, 1);
        }
      },
    });
  }

  /** The commit holding the event `eventId` carries the ack of `stream` up to `version`. */
  mark(eventId: string, stream: string, version: number): void {
    this.marks.set(eventId, { stream, version });
  }

  /** The commit of a {@link mark}ed event settled (committed or not). */
  unmark(eventId: string): void {
    this.marks.delete(eventId);
  }

  /** An ack was committed with its effects: its `x:` key is deleted once the checkpoint covers it. */
  committed(stream: string, version: number): void {
    this.xKeys.set(stream, [...(this.xKeys.get(stream) ?? []), version]);
  }

  /**
   * Writes a plan of the state machine in one batch: the state (with `clean` when nothing was in
   * flight at close), the changed entries, and the deletion of the `x:` keys they cover. If the
   * batch fails, the `x:` keys are kept for the next write and the error is thrown.
   */
  async write(plan: CheckpointPlan, clean: boolean): Promise<void> {
    const ops: Array<{ type: 'put' | 'del'; key: string; value?: unknown }> = [];
    const cleared: Array<[string, number[]]> = [];
    ops.push({ type: 'put', key: 'state', value: { format: FORMAT, pattern: this.pattern, watermark: plan.watermark, incarnation: this.incarnation, ...(clean ? { clean: true } : {}) } satisfies SavedState });
    for (const [stream, entry] of plan.puts) {
      ops.push({ type: 'put', key: `s:${stream}`, value: entry });
      cleared.push([stream, this.clearX(stream, entry.acked, ops)]);
    }
    for (const stream of plan.dels) {
      ops.push({ type: 'del', key: `s:${stream}` });
      cleared.push([stream, this.clearX(stream, Number.MAX_SAFE_INTEGER, ops)]);
    }
    try {
      await this.meta.batch(ops as never);
    } catch (error) {
      for (const [stream, versions] of cleared) if (versions.length > 0) this.xKeys.set(stream, [...(this.xKeys.get(stream) ?? []), ...versions]);
      throw error;
    }
  }

  /** Deletes the exactly-once keys of a stream the checkpoint now covers. */
  private clearX(stream: string, acked: number, ops: Array<{ type: 'put' | 'del'; key: string }>): number[] {
    const versions = this.xKeys.get(stream);
    if (versions === undefined) return [];
    const gone = versions.filter((v) => v <= acked);
    const kept = versions.filter((v) => v > acked);
    for (const v of gone) ops.push({ type: 'del', key: `x:${stream}:${pad(v)}` });
    if (kept.length > 0) this.xKeys.set(stream, kept);
    else this.xKeys.delete(stream);
    return gone;
  }
}

function startPosition(log: EventLog, start: GroupStart): number {
  if (start === 'beginning') return 0;
  if (start === 'end') return log.position;
  if (start !== null && typeof start === 'object' && Number.isSafeInteger(start.position) && start.position >= 1) return start.position - 1;
  throw new InvalidArgumentError("start must be 'beginning', 'end' or { position } with an integer position >= 1.");
}

/** The version and position of a stream's last event at or below `watermark` (or of version `atLeast`). */
async function lastAtOrBelow(log: EventLog, stream: string, watermark: number, atLeast: number): Promise<[number, number]> {
  const info = await log.streamInfo(stream);
  if (info === undefined) return [atLeast, 0];
  let known = 0;
  let position = 0;
  if (info.lastPosition <= watermark) {
    known = info.version;
    position = info.lastPosition;
  } else {
    for await (const e of log.readStream(stream, { direction: 'backwards', ifTruncated: 'skip' })) {
      if (e.position <= watermark) {
        known = e.version;
        position = e.position;
        break;
      }
    }
  }
  if (atLeast > known) {
    for await (const e of log.readStream(stream, { from: atLeast, limit: 1, ifTruncated: 'skip' })) {
      known = e.version;
      position = e.position;
    }
  }
  return [known, position];
}
