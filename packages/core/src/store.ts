/**
 * The one interface for "an event store": what the embedded {@link EventLog} and the remote client
 * (`@strand/client`) both implement, and what aggregates, projections and tools take. An
 * application moves from embedded to remote by changing how it opens the store and nothing else.
 * Design: docs/design/0013-server.md.
 *
 * @module
 */
import type { Observable } from 'rxjs';
import type { ExpectedVersion } from './errors.js';
import type { CommitHook, Sublevel, WorkKind } from './plugins.js';
import type {
  AppendOptions,
  AppendResult,
  EventInput,
  HierarchyPage,
  ListChildrenOptions,
  MultiAppendResult,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamInfo,
  SubscribeOptions,
} from './types.js';

/**
 * An event store: per-entity streams with expected versions, a gapless global order, reads,
 * catch-up-then-live subscriptions, the stream hierarchy and maintenance. Every method fails with
 * the same `StrandError` codes whether the store is in process or across the network.
 */
export interface EventStore {
  /** Appends events to one stream, checking its expected version. */
  append(stream: string, events: readonly EventInput[], options?: AppendOptions): Promise<AppendResult>;
  /** Appends to several streams in one atomic commit, each with its own expected version. */
  appendMulti(parts: readonly StreamAppend[]): Promise<MultiAppendResult>;
  /** Reads one stream (forwards or backwards), paging through the store. */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  /** Reads the global order from a position, optionally filtered by a stream pattern. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** Catch-up from a position, then live: no gap and no duplicate. Ends when `options.signal` aborts. */
  follow(pattern: string, options?: SubscribeOptions): AsyncIterable<RecordedEvent>;
  /** {@link EventStore.follow} as an RxJS Observable; unsubscribing stops it. */
  subscribe(pattern: string, options?: SubscribeOptions): Observable<RecordedEvent>;
  /** The children of a hierarchy prefix ('' = the root), paged. */
  listChildren(prefix: string, options?: ListChildrenOptions): Promise<HierarchyPage>;
  /** Metadata of a stream; `undefined` if it never existed. */
  streamInfo(stream: string): Promise<StreamInfo | undefined>;
  /** Soft-deletes a stream. */
  deleteStream(stream: string, options?: { expectedVersion?: ExpectedVersion }): Promise<StreamInfo>;
  /** Removes a stream's events before `version` (the versions stay). */
  truncateBefore(stream: string, version: number): Promise<{ truncatedBefore: number; removed: number }>;
  /** The last committed global position (0 for an empty store). */
  headPosition(): Promise<number>;
  /** Resolves once the committed position reaches `position`; `STRAND_TIMEOUT` after `timeoutMs`. */
  waitForPosition(position: number, timeoutMs?: number): Promise<void>;
  /**
   * A key-value space beside the log for a component's own state (snapshots, checkpoints, read
   * models): the log's own store when embedded; a local store the application chose when remote.
   */
  sublevel(name: string, options?: { valueEncoding?: string }): Sublevel;
  /** True once {@link EventStore.close} was called. */
  readonly isClosed: boolean;
  /** Closes the store (ends subscriptions; a remote one closes its connections). */
  close(): Promise<void>;
  /**
   * Runs a hook inside every commit, atomically with it. Only an embedded log can: a remote store
   * leaves it undefined, and components fall back to what they can do without it.
   */
  addCommitHook?(hook: CommitHook): () => void;
  /** Reports work a layer above the store did (metering). Optional. */
  recordWork?(kind: WorkKind, amount: number): void;
}

/** True if `value` looks like an {@link EventStore} (for argument checks at component boundaries). */
export function isEventStore(value: unknown): value is EventStore {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return ['append', 'appendMulti', 'readStream', 'readAll', 'follow', 'subscribe', 'streamInfo', 'headPosition', 'sublevel'].every((k) => typeof s[k] === 'function');
}
