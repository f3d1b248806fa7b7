/**
 * `strand tail`: prints events of matching streams as they are committed.
 *
 * On LevelDB one process opens a log at a time, so tail reopens the log for every poll and lets
 * go in between (short-lived writers such as `strand append` take turns). On S3 it opens one
 * read-only follower and follows it (`log.follow`): the follower polls the bucket and the event
 * log moves along with each refresh, so nothing is reopened (reopening would LIST the bucket).
 *
 * @module
 */
import { type EventLog, isStrandError, type RecordedEvent } from '@strand/core';

/** Options of {@link tail}. */
export interface TailOptions {
  /** Opens the log (a follower on S3). */
  open: () => Promise<EventLog>;
  /** Reopen for every poll (LevelDB) instead of following one open log (S3). */
  reopen: boolean;
  /** Ends the tail when aborted (Ctrl-C), also while it waits for events. */
  signal?: AbortSignal;
  /** Stream pattern. */
  pattern: string;
  /** First position, or `'end'` for events committed from now on. */
  from: number | 'end';
  /** Stop after this many events (default: never). */
  count?: number;
  /** Poll interval in ms. */
  intervalMs: number;
  /** Receives each event. */
  onEvent: (e: RecordedEvent) => void;
  /** True once the user asked to stop (Ctrl-C). */
  stopped: () => boolean;
  /** Called once when the log is held by another process (LevelDB). */
  onLocked?: () => void;
  /** Waits between polls. */
  sleep: (ms: number) => Promise<void>;
}

/** Follows the log until `count` events were printed or `stopped()`. Resolves with the count. */
export async function tail(o: TailOptions): Promise<number> {
  const max = o.count ?? Number.POSITIVE_INFINITY;
  let next: number | undefined = o.from === 'end' ? undefined : o.from;
  let printed = 0;
  let warned = false;
  if (!o.reopen) return follow(o, max);
  while (!o.stopped() && printed < max) {
    let log: EventLog | undefined;
    try {
      log = await o.open();
    } catch (error) {
      if (!isStrandError(error, 'STRAND_LOG_LOCKED')) throw error;
      if (!warned) o.onLocked?.();
      warned = true;
    }
    if (log !== undefined) {
      try {
        next ??= log.position + 1;
        for await (const e of log.readAll({ from: next, pattern: o.pattern })) {
          o.onEvent(e);
          next = e.position + 1;
          if (++printed >= max) break;
        }
        next = Math.max(next, log.position + 1);
      } finally {
        await log.close();
      }
    }
    if (!o.stopped() && printed < max) await o.sleep(o.intervalMs);
  }
  return printed;
}

/** One open log, followed live: its position moves with the store's refreshes (an S3 follower). */
async function follow(o: TailOptions, max: number): Promise<number> {
  const log = await o.open();
  let printed = 0;
  try {
    if (o.stopped() || o.signal?.aborted) return 0;
    const from = o.from === 'end' ? log.position + 1 : o.from;
    for await (const e of log.follow(o.pattern, { from, ...(o.signal === undefined ? {} : { signal: o.signal }) })) {
      o.onEvent(e);
      if (++printed >= max || o.stopped()) break;
    }
  } finally {
    await log.close();
  }
  return printed;
}
