/**
 * The public data types of the event log.
 *
 * @module
 */
import type { ExpectedVersion } from './errors.js';

export type { ExpectedVersion } from './errors.js';

/** An event as the caller gives it to an append. */
export interface EventInput<T = unknown> {
  /** Event type, e.g. `OrderPlaced`: 1 to 128 characters. */
  type: string;
  /**
   * The payload, copied once on append. Must be data the log's codec reads back equal: with the
   * default JSON codec, plain objects, arrays, strings, finite numbers, booleans and null
   * (properties whose value is `undefined` are left out when stored). Anything else is `STRAND_INVALID_EVENT`.
   */
  data: T;
  /** Unique id (1 to 128 characters), generated (UUID v4) if absent. Makes retries idempotent. */
  id?: string;
  /** Free-form metadata (correlation ids, causation, user...): a plain object of JSON values. */
  metadata?: Record<string, unknown>;
  /** Version of the event type's schema the data was written with (set by the schema registry). */
  schemaVersion?: number;
}

/** An event as stored and read back. */
export interface RecordedEvent<T = unknown> {
  /** The stream the event belongs to. */
  readonly stream: string;
  /** Version in its stream: 1 for the first event, contiguous, never reused. */
  readonly version: number;
  /** Position in the log's global order: 1 for the first event, gapless in commit order. */
  readonly position: number;
  /** Event type. */
  readonly type: string;
  /** Event id. */
  readonly id: string;
  /** Commit time, milliseconds since the Unix epoch. */
  readonly timestamp: number;
  /** The payload. */
  readonly data: T;
  /** Metadata given on append, if any. */
  readonly metadata: Record<string, unknown> | undefined;
  /** Schema version the data was written with, if the log has a schema registry. */
  readonly schemaVersion: number | undefined;
}

/**
 * A recorded event whose payload was not decoded: `dataJson` is its data as JSON text, what a
 * server puts on the wire (docs/design/0010-cpu-per-event.md, "Payload as JSON text"). In a log
 * with the `json` codec it is the stored payload's text as it is, neither parsed nor stringified;
 * other codecs (and logs with read interceptors) decode the event and stringify its data.
 * Read with {@link EventLog.followJson}.
 */
export interface JsonTextEvent extends Omit<RecordedEvent, 'data'> {
  /** The payload as JSON text (`''` for `undefined` data, which only non-JSON codecs store). */
  readonly dataJson: string;
}

/** Options of a single-stream append. */
export interface AppendOptions {
  /** What the stream's version must be for the append to happen. Default (absent) `'any'`; `null` is refused. */
  expectedVersion?: ExpectedVersion;
  /** Append to a soft-deleted stream, bringing it back (versions continue). Default false. */
  recreate?: boolean;
}

/** Result of a successful append. */
export interface AppendResult {
  /** The stream appended to. */
  readonly stream: string;
  /** The stream's version after the append (the last event's version). */
  readonly version: number;
  /** Global position of the first appended event. */
  readonly firstPosition: number;
  /** Global position of the last appended event. */
  readonly position: number;
  /** The events as committed. */
  readonly events: readonly RecordedEvent[];
  /** True if this was a retry of an append that had already committed: nothing was written. */
  readonly idempotent: boolean;
}

/** One stream's part of a multi-stream append. */
export interface StreamAppend {
  /** Target stream. */
  stream: string;
  /** Events to append to it (at least one). */
  events: readonly EventInput[];
  /** Expected version of that stream. Default `'any'`. */
  expectedVersion?: ExpectedVersion;
  /** Bring a soft-deleted stream back. */
  recreate?: boolean;
}

/** Result of a multi-stream append: one result per part, in the order given. */
export interface MultiAppendResult {
  /** Per-stream results, in the order of the request. */
  readonly results: readonly AppendResult[];
  /** Global position of the last event of the whole commit. */
  readonly position: number;
}

/** What happens when a read starts in a truncated range. */
export type IfTruncated = 'error' | 'skip';

/** Options of {@link EventLog.readStream}. */
export interface ReadStreamOptions {
  /** First version to read (inclusive). Default: 1 forwards, the last version backwards. */
  from?: number;
  /** Direction. Default `'forwards'`. */
  direction?: 'forwards' | 'backwards';
  /** Most events to return. Default: all. */
  limit?: number;
  /** Truncated range: throw `STRAND_STREAM_TRUNCATED` (default) or start at the first kept event. */
  ifTruncated?: IfTruncated;
}

/** Options of {@link EventLog.readAll}. */
export interface ReadAllOptions {
  /** First global position to read (inclusive). Default 1. */
  from?: number;
  /** Most events to return. Default: all. */
  limit?: number;
  /** Only events whose stream matches this pattern. */
  pattern?: string;
  /** Read up to and including this position (default: the head when the read started). */
  to?: number;
}

/** Options of {@link EventLog.subscribe} and {@link EventLog.follow}. */
export interface SubscribeOptions {
  /** First global position to deliver (inclusive). Default 1 (everything). Use `'end'` for new events only. */
  from?: number | 'end';
  /** Stops the subscription. */
  signal?: AbortSignal;
}

/** Metadata of a stream. */
export interface StreamInfo {
  /** Stream name. */
  readonly name: string;
  /** Current version (0 if it never had events). */
  readonly version: number;
  /** Global position of its last event (0 if none). */
  readonly lastPosition: number;
  /** Creation time (ms since epoch). */
  readonly created: number;
  /** Events with a lower version were truncated (1 = nothing truncated). */
  readonly truncatedBefore: number;
  /**
   * Global position of the newest event truncation removed (0 = none): a reader that has seen
   * every position up to here has seen the truncated history. For streams truncated before this
   * was recorded, the stream's last position (an upper bound). Absent where the store does not
   * report it (a remote store): readers then take the stream's last position.
   */
  readonly truncatedThrough?: number;
  /** Soft-deleted. */
  readonly deleted: boolean;
}

/** One child in a hierarchy listing. */
export interface HierarchyEntry {
  /** The child's full name (`orders/eu`). */
  readonly name: string;
  /** Its last segment (`eu`). */
  readonly segment: string;
  /** A stream has exactly this name. */
  readonly isStream: boolean;
  /** Streams exist below it. */
  readonly hasChildren: boolean;
}

/** Options of {@link EventLog.listChildren}. */
export interface ListChildrenOptions {
  /** Start after this child segment (paging). */
  after?: string;
  /** Most entries. Default 100, at most 10,000. */
  limit?: number;
}

/** A page of a hierarchy listing. */
export interface HierarchyPage {
  /** Children in byte order of their segment. */
  readonly entries: readonly HierarchyEntry[];
  /** Pass as `after` to get the next page; absent on the last page. */
  readonly next?: string;
}

/** Durability of appends. */
export type Durability =
  /** Acknowledge after the write is synced to disk (default). */
  | 'sync'
  /** Acknowledge after the write reached the OS; a machine crash can lose the last writes, a process crash cannot. */
  | 'buffered';
