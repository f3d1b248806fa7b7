/**
 * Snapshots: folded aggregate state kept beside the log, in a sublevel of the same store, keyed by
 * stream. Design and crash reasoning: docs/design/0004-snapshots.md. Also the subpath
 * `@strand/aggregate/snapshots`, which loads nothing but `@strand/core` (no zod): the server reads
 * snapshots through it.
 *
 * @module
 */
import { type EventStore, InvalidArgumentError, type Sublevel } from '@strand/core';

/** A stored snapshot (format 1). */
export interface SnapshotRecord {
  /** Record format. */
  readonly format: 1;
  /** Aggregate name that wrote it. */
  readonly aggregate: string;
  /** The aggregate's `stateVersion` when it was written. */
  readonly stateVersion: number;
  /** Stream version the state folds up to (inclusive). */
  readonly version: number;
  /** The folded state, as JSON. */
  readonly state: unknown;
  /** Write time (ms since epoch). */
  readonly takenAt: number;
}

/** When the repository writes snapshots (all optional; none set = on demand only). */
export interface SnapshotPolicy {
  /** After a command takes the stream across a multiple of `every` events. */
  every?: number;
  /** After a load had to replay more than this many events. */
  whenReplayOver?: number;
}

/** What happens to history older than the latest snapshot. */
export type RetentionPolicy =
  | {
      /** Keep every event (the default). */
      mode: 'keep-all';
    }
  | {
      /** Truncate events older than the latest snapshot, through the log's `truncateBefore`. */
      mode: 'truncate';
      /** Keep this many events before the snapshot anyway (default 0). */
      keepLast?: number;
      /** Receives the events before they are removed (e.g. the S3 archive tier). A failure stops the truncation. */
      archive?: ArchiveHook;
    };

/** Receives events about to be truncated. Must be durable when it resolves. */
export type ArchiveHook = (stream: string, events: readonly import('@strand/core').RecordedEvent[]) => Promise<void>;

/** Checks a policy object, naming the fix. */
export function assertPolicies(snapshots: unknown, retention: unknown): void {
  if (snapshots !== undefined) {
    if (snapshots === null || typeof snapshots !== 'object') throw new InvalidArgumentError('snapshots must be an object like { every: 100 }.');
    for (const k of ['every', 'whenReplayOver'] as const) {
      const v = (snapshots as Record<string, unknown>)[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) throw new InvalidArgumentError(`snapshots.${k} must be an integer >= 1.`);
    }
  }
  if (retention !== undefined) {
    const r = retention as { mode?: unknown; keepLast?: unknown; archive?: unknown } | null;
    if (r === null || typeof r !== 'object' || (r.mode !== 'keep-all' && r.mode !== 'truncate')) {
      throw new InvalidArgumentError("retention must be { mode: 'keep-all' } or { mode: 'truncate', keepLast?, archive? }.");
    }
    if (r.keepLast !== undefined && (typeof r.keepLast !== 'number' || !Number.isSafeInteger(r.keepLast) || r.keepLast < 0)) {
      throw new InvalidArgumentError('retention.keepLast must be an integer >= 0.');
    }
    if (r.archive !== undefined && typeof r.archive !== 'function') throw new InvalidArgumentError('retention.archive must be a function (stream, events) => Promise<void>.');
  }
}

/** Reads and writes snapshot records in the log's store. */
export class SnapshotStore {
  private readonly db: Sublevel;

  constructor(private readonly log: EventStore) {
    this.db = log.sublevel('snapshots');
  }

  /** The stored record for a stream, if any. */
  async get(stream: string): Promise<SnapshotRecord | undefined> {
    const v = (await this.db.get(stream)) as SnapshotRecord | undefined;
    return v === undefined || v === null || v.format !== 1 ? undefined : v;
  }

  /** Writes a record durably (synced) before resolving: truncation relies on it. */
  async put(stream: string, record: SnapshotRecord): Promise<void> {
    // Encoded once here, so the bytes metered are the bytes stored (the sublevel's json encoding
    // would stringify the same record again).
    const json = JSON.stringify(record);
    await this.db.put(stream, json, { sync: true, valueEncoding: 'utf8' } as never);
    this.log.recordWork?.('snapshotsWritten', 1);
    this.log.recordWork?.('snapshotBytes', Buffer.byteLength(json));
  }

  /** Removes a stream's snapshot. */
  async delete(stream: string): Promise<void> {
    await this.db.del(stream, { sync: true } as never);
  }

  /**
   * A stream's stored snapshot with its size as stored (bytes of its JSON record), for tools that
   * show snapshots (the server's `GetSnapshot`, the console); undefined when there is none.
   */
  async inspect(stream: string): Promise<{ record: SnapshotRecord; bytes: number } | undefined> {
    const text = (await this.db.get(stream, { valueEncoding: 'utf8' } as never)) as string | undefined;
    if (text === undefined || text === null) return undefined;
    const record = JSON.parse(text) as SnapshotRecord;
    return record?.format === 1 ? { record, bytes: Buffer.byteLength(text) } : undefined;
  }

  /**
   * Every stored snapshot's stream, version and size (bytes of its JSON record), in stream order
   * (for tools such as `strand snapshots` and the server's `ListSnapshots`); with `prefix`, only
   * the streams below that hierarchy prefix; with `after`, only streams after that name (paging).
   */
  async *list(prefix?: string, options: { after?: string } = {}): AsyncIterable<SnapshotSummary> {
    const range: { gte?: string; gt?: string; lt?: string } = prefix ? { gte: `${prefix}/`, lt: `${prefix}/\uffff` } : {};
    if (options.after !== undefined && (range.gte === undefined || options.after >= range.gte)) {
      delete range.gte;
      range.gt = options.after;
    }
    for await (const [stream, text] of this.db.iterator({ ...range, valueEncoding: 'utf8' } as never) as AsyncIterable<[string, string]>) {
      const rec = JSON.parse(text) as SnapshotRecord;
      if (rec?.format !== 1) continue;
      yield { stream, version: rec.version, aggregate: rec.aggregate, stateVersion: rec.stateVersion, takenAt: rec.takenAt, bytes: Buffer.byteLength(text) };
    }
  }
}

/** A stored snapshot without its state, as {@link SnapshotStore.list} yields it. */
export interface SnapshotSummary {
  /** The stream it folds. */
  readonly stream: string;
  /** Stream version the state folds up to (inclusive). */
  readonly version: number;
  /** Aggregate name that wrote it. */
  readonly aggregate: string;
  /** The aggregate's `stateVersion` when it was written. */
  readonly stateVersion: number;
  /** Write time (ms since epoch). */
  readonly takenAt: number;
  /** Size of the stored record (its JSON), in bytes. */
  readonly bytes: number;
}
