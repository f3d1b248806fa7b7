/**
 * Groups at rest: what the store says about each consumer group (for tools such as `strand
 * groups`), and retry/skip of a parked stream while no coordinator runs. With a coordinator
 * running, use its methods (or `adminGroup` over its socket) instead.
 *
 * @module
 */
import { type EventLog, InvalidArgumentError } from '@strand/core';
import type { CheckpointEntry } from './checkpoint.js';
import type { GroupParkedStream } from './delivery.js';

/** The sublevel listing every group opened on a log. */
export const GROUP_CATALOG = 'groups';

/** A consumer group as its durable checkpoint describes it. */
export interface StoredGroup {
  /** Group name. */
  name: string;
  /** Its pattern. */
  pattern: string;
  /** Its durable watermark. */
  watermark: number;
  /** Streams in its checkpoint (pending, in flight or parked when it was written). */
  streams: number;
  /** Parked streams. */
  parked: GroupParkedStream[];
}

/** The groups opened on this log, from their durable checkpoints. */
export async function listGroups(log: EventLog): Promise<StoredGroup[]> {
  const out: StoredGroup[] = [];
  for await (const [name] of log.sublevel(GROUP_CATALOG).iterator()) {
    const meta = log.sublevel(`group-${name as string}`);
    const state = (await meta.get('state')) as { pattern: string; watermark: number } | undefined;
    if (state === undefined) continue;
    let streams = 0;
    const parked: GroupParkedStream[] = [];
    for await (const [, value] of meta.iterator({ gte: 's:', lt: 's;' })) {
      streams++;
      const p = (value as CheckpointEntry).parked;
      if (p !== undefined) parked.push(p);
    }
    out.push({ name: name as string, pattern: state.pattern, watermark: state.watermark, streams, parked });
  }
  return out;
}

/**
 * Retries or skips a parked stream in a group's durable checkpoint, while no coordinator of the
 * group runs (the next one to open delivers it). Resolves false if the stream was not parked.
 */
export async function resumeParkedAtRest(log: EventLog, group: string, stream: string, mode: 'retry' | 'skip'): Promise<boolean> {
  if (mode !== 'retry' && mode !== 'skip') throw new InvalidArgumentError("mode must be 'retry' or 'skip'.");
  const meta = log.sublevel(`group-${group}`);
  if ((await meta.get('state')) === undefined) throw new InvalidArgumentError(`No consumer group named ${group} in this log.`);
  const entry = (await meta.get(`s:${stream}`)) as CheckpointEntry | undefined;
  if (entry?.parked === undefined) return false;
  await meta.put(`s:${stream}`, { acked: mode === 'skip' ? entry.parked.version : entry.acked } satisfies CheckpointEntry);
  return true;
}
