/**
 * The event log: per-entity streams with optimistic concurrency, a gapless global order, group
 * commit, reads, hierarchy browsing, truncation and live subscriptions, on any abstract-level store.
 * This file is the facade: it validates, checks the open state and hands each call to its part:
 * the commit pipeline (`commit/`, docs/design/0002-commit-path.md), reads (`log/reads.ts`),
 * follow and subscribe (`log/follow.ts`, docs/design/0003-subscriptions.md), the hierarchy
 * (`log/hierarchy.ts`) and maintenance (`log/maintenance.ts`); opening the store and its format
 * record is `log/open-store.ts`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { PayloadCodec } from './codec.js';
import { CommitPipeline } from './commit/pipeline.js';
import { type PrepareOptions, type PreparedPart, prepareAppend } from './commit/prepare.js';
import { describeValue, type ExpectedVersion, InvalidArgumentError, LogClosedError } from './errors.js';
import { HeadCache } from './head-cache.js';
import { LiveRing } from './live-ring.js';
import { SchemaRegistry } from './schema/registry.js';
import { type AnyLevel, intercept, type LogContext } from './log/context.js';
import { Followers } from './log/follow.js';
import { countStreams, listChildren } from './log/hierarchy.js';
import { Maintenance } from './log/maintenance.js';
import { lastGlobalPosition, listenForRefresh, openStore, storePipelineDepth } from './log/open-store.js';
import { LogReads } from './log/reads.js';
import type { AppendInterceptor, CommitHook, Logger, ReadInterceptor, Sublevel, WorkKind, WorkMeter } from './plugins.js';
import { silentLogger } from './plugins.js';
import type {
  AppendOptions,
  AppendResult,
  Durability,
  EventInput,
  HierarchyPage,
  JsonTextEvent,
  ListChildrenOptions,
  MultiAppendResult,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamInfo,
  SubscribeOptions,
} from './types.js';
import type { VerifyReport } from './verify.js';
import { assertStreamName } from './names.js';
import type { EventStore } from './store.js';
import { assertCount, copyAppend, copyParts } from './validate.js';

export type { AnyLevel } from './log/context.js';

/** Options of {@link EventLog.open}. */
export interface EventLogOptions {
  /**
   * The store: an abstract-level database or sublevel (memory-level, classic-level, S3Level...).
   * The log opens it if needed and closes it on `close()` only if `ownsStore` is true.
   */
  store: AnyLevel;
  /** Close the store when the log closes. Default false. */
  ownsStore?: boolean;
  /**
   * Create the log if the store holds none (default true). False for tools that only read: a
   * store without a Strand log then fails with `STRAND_NOT_FOUND` and nothing is written to it.
   */
  createIfMissing?: boolean;
  /** When an append is acknowledged. Default `'sync'`. See docs: "Durability". */
  durability?: Durability;
  /** Payload codec, or the name of a built-in one. Default: the codec the log was created with, else JSON. */
  codec?: PayloadCodec | string;
  /** Largest encoded event payload + metadata, bytes. Default 1 MiB. */
  maxEventBytes?: number;
  /** Most events in one append. Default 10,000. */
  maxAppendEvents?: number;
  /**
   * Stream heads kept in memory (LRU). Default 10,000: a miss costs one store read on the commit
   * path, while 100,000 heads cost ~120 MB of peak RSS under churn (measured, docs/design/0001).
   */
  headCacheSize?: number;
  /** Recent events kept in memory for live subscribers. Default 8,192. */
  liveBufferSize?: number;
  /** Most appends merged into one group commit. Default 1,024. */
  maxGroupSize?: number;
  /**
   * Group commits in flight at once. Default 1: the next group forms while the previous one is
   * being written, and is written after it. Above 1, the next groups are also *written* before the
   * previous one is acknowledged, which pays off when a write is a network round trip (default:
   * what the store offers as `strandPipelineDepth`, 4 on S3Level, else 1). Only for stores whose `batch()` makes its writes visible to reads when it
   * is called, persists batches in call order and fails every later batch once one fails:
   * S3Level and memory-level do; classic-level does not (its batches run on a thread pool).
   * See docs/design/0002.
   */
  pipelineDepth?: number;
  /** Run before validation on every append. */
  appendInterceptors?: readonly AppendInterceptor[];
  /** Run on every event read or delivered. */
  readInterceptors?: readonly ReadInterceptor[];
  /** Run inside every commit (inline projections). */
  commitHooks?: readonly CommitHook[];
  /** Clock (ms since epoch). Default `Date.now`. */
  clock?: () => number;
  /** Event id generator. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Structured logger. Default: silent. */
  logger?: Logger;
}

/**
 * An open event log. One instance owns its store (or sublevel) for writing: open it once per
 * process and share it. All methods validate their arguments and throw typed `StrandError`s.
 */
export class EventLog implements EventStore {
  private readonly store: AnyLevel;
  private readonly ownsStore: boolean;
  /** The payload codec in use (recorded in the store). */
  readonly codec: PayloadCodec;
  private readonly appendInterceptors: AppendInterceptor[];
  private readonly readInterceptors: ReadInterceptor[];
  private readonly commitHooks: CommitHook[];
  private readonly prepareOptions: PrepareOptions;
  private readonly workMeters: WorkMeter[] = [];
  private readonly pipeline: CommitPipeline;
  private readonly reads: LogReads;
  private readonly followers: Followers;
  private readonly maintenance: Maintenance;
  private closed = false;
  private readonly headSubject: BehaviorSubject<number>;
  /** Stops listening to the store's `'refresh'` events (a follower's store). */
  private readonly unlistenRefresh: () => void;
  private refreshing: Promise<void> | undefined;
  private readonly logger: Logger;
  private refreshAgain = false;

  /** The last committed global position, as an observable (emits after every commit). */
  readonly head$: Observable<number>;

  private constructor(options: Required<Pick<EventLogOptions, 'store'>> & EventLogOptions, codec: PayloadCodec, lastPosition: number, textRecords: boolean) {
    this.store = options.store;
    this.ownsStore = options.ownsStore ?? false;
    this.codec = codec;
    this.appendInterceptors = [...(options.appendInterceptors ?? [])];
    this.readInterceptors = [...(options.readInterceptors ?? [])];
    this.commitHooks = [...(options.commitHooks ?? [])];
    const logger = options.logger ?? silentLogger;
    this.logger = logger;
    const durability = options.durability ?? 'sync';
    const heads = new HeadCache(options.headCacheSize ?? 10_000);
    const ring = new LiveRing(options.liveBufferSize ?? 8192, lastPosition);
    this.prepareOptions = {
      codec,
      textRecords,
      maxEventBytes: options.maxEventBytes ?? 1024 * 1024,
      maxAppendEvents: options.maxAppendEvents ?? 10_000,
      appendInterceptors: this.appendInterceptors,
      newId: options.newId ?? randomUUID,
    };
    this.headSubject = new BehaviorSubject(lastPosition);
    this.head$ = this.headSubject.asObservable();
    this.pipeline = new CommitPipeline({
      store: this.store,
      codec,
      textRecords,
      sync: durability === 'sync',
      heads,
      ring,
      maxGroupSize: options.maxGroupSize ?? 1024,
      pipelineDepth: options.pipelineDepth ?? storePipelineDepth(options.store),
      commitHooks: this.commitHooks,
      intercept: (e) => intercept(this.readInterceptors, e),
      clock: options.clock ?? Date.now,
      logger,
      lastPosition,
      onAdvance: (last) => {
        this.followers.wake();
        this.headSubject.next(last);
      },
    });
    const ctx: LogContext = {
      store: this.store,
      codec,
      textRecords,
      durability,
      heads,
      ring,
      readInterceptors: this.readInterceptors,
      logger,
      position: () => this.pipeline.lastPosition,
      isClosed: () => this.closed,
    };
    this.reads = new LogReads(ctx);
    this.followers = new Followers(ctx, this.reads);
    this.maintenance = new Maintenance(ctx, this.pipeline, options.clock ?? Date.now);
    this.unlistenRefresh = listenForRefresh(this.store, () => this.storeRefreshed());
  }

  /**
   * The store saw another process's commits (a follower's S3Level after a poll: docs/design/0005,
   * "Followers"): move the position, and with it `readAll`, `follow`, `subscribe` and `head$`.
   * One read of the last global key; refreshes that arrive meanwhile are coalesced into one more.
   */
  private storeRefreshed(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const last = await lastGlobalPosition(this.store);
          if (this.closed) return;
          this.pipeline.observe(last);
        } while (this.refreshAgain && !this.closed);
      } catch (err) {
        if (!this.closed) this.logger.warn({ err }, 'could not read the position after a store refresh');
      } finally {
        this.refreshing = undefined;
      }
    })();
  }

  /**
   * Opens (creating if needed) an event log in `options.store`. Use `openLog()` for the common
   * cases of a directory on disk or memory.
   */
  static async open(options: EventLogOptions): Promise<EventLog> {
    if (options === null || typeof options !== 'object' || options.store === undefined || options.store === null) {
      throw new InvalidArgumentError('EventLog.open needs { store }: an abstract-level database such as new ClassicLevel(path) or new MemoryLevel(). Or use openLog({ path }).');
    }
    for (const k of ['maxEventBytes', 'maxAppendEvents', 'headCacheSize', 'liveBufferSize', 'maxGroupSize', 'pipelineDepth'] as const) {
      assertCount(k, options[k], { min: k === 'headCacheSize' ? 0 : 1 });
    }
    if (options.durability !== undefined && options.durability !== 'sync' && options.durability !== 'buffered') {
      throw new InvalidArgumentError(`durability must be 'sync' or 'buffered', got ${describeValue(options.durability)}.`);
    }
    const { codec, lastPosition, textRecords } = await openStore(options);
    const log = new EventLog(options, codec, lastPosition, textRecords);
    // The log enforces the schema registry stored in it, whichever process opens it (docs/design/0006).
    try {
      await SchemaRegistry.enforceStored(log);
    } catch (error) {
      await log.close().catch(() => {});
      throw error;
    }
    return log;
  }

  /** The last committed global position (0 for an empty log). */
  get position(): number {
    return this.pipeline.lastPosition;
  }

  /** The last committed global position, as {@link EventStore.headPosition} asks for it. */
  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.pipeline.lastPosition;
  }

  /** True once {@link EventLog.close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * A sublevel of the log's store for data kept beside the events (snapshots, read models,
   * checkpoints, schemas). Writes to it can join a commit through a {@link CommitHook}.
   * @param name letters, digits, '-' and '_' only.
   */
  sublevel(name: string, options: { valueEncoding?: string } = {}): Sublevel {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new InvalidArgumentError(`A sublevel name is 1 to 64 letters, digits, '-' or '_'; got ${describeValue(name)}.`);
    }
    return this.store.sublevel(name, { keyEncoding: 'utf8', valueEncoding: options.valueEncoding ?? 'json' }) as Sublevel;
  }

  /**
   * Reports work a layer above the log did on it (the aggregate package's snapshots, the
   * projections package's commits) to every registered work meter. Cheap when none is registered.
   */
  recordWork(kind: WorkKind, amount: number): void {
    for (const m of this.workMeters) m(kind, amount);
  }

  /** Registers a work meter (tenant metering does, per tenant log); returns a function that removes it. */
  addWorkMeter(meter: WorkMeter): () => void {
    if (typeof meter !== 'function') throw new InvalidArgumentError('addWorkMeter needs a function (kind, amount) => void.');
    this.workMeters.push(meter);
    return () => {
      const k = this.workMeters.indexOf(meter);
      if (k >= 0) this.workMeters.splice(k, 1);
    };
  }

  /**
   * Adds interceptors after opening (plugins that need the open log, like the schema registry,
   * which keeps its schemas in the log's own store). Returns a remover.
   */
  addInterceptors(interceptors: { append?: AppendInterceptor; read?: ReadInterceptor }): () => void {
    this.assertOpen();
    const { append, read } = interceptors ?? {};
    if (append !== undefined && typeof append?.onAppend !== 'function') throw new InvalidArgumentError('An append interceptor needs a name and an onAppend(events, context) method.');
    if (read !== undefined && typeof read?.onRead !== 'function') throw new InvalidArgumentError('A read interceptor needs a name and an onRead(event) method.');
    if (append) this.appendInterceptors.push(append);
    if (read) this.readInterceptors.push(read);
    return () => {
      if (append) this.appendInterceptors.splice(this.appendInterceptors.indexOf(append) >>> 0, 1);
      if (read) this.readInterceptors.splice(this.readInterceptors.indexOf(read) >>> 0, 1);
    };
  }

  /** Adds a commit hook (e.g. an inline projection) to every later append. Returns a remover. */
  addCommitHook(hook: CommitHook): () => void {
    this.assertOpen();
    if (hook === null || typeof hook !== 'object' || typeof hook.onCommit !== 'function') {
      throw new InvalidArgumentError('addCommitHook needs an object with a name and an onCommit(events, tx) method.');
    }
    this.commitHooks.push(hook);
    return () => {
      const i = this.commitHooks.indexOf(hook);
      if (i >= 0) this.commitHooks.splice(i, 1);
    };
  }

  /**
   * Appends events to one stream atomically. With `expectedVersion`, the append happens only if
   * the stream is at that version; otherwise it throws {@link WrongExpectedVersionError} and
   * writes nothing. Resolves once the events are durable (see `durability`).
   */
  async append(stream: string, events: readonly EventInput[], options: AppendOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    // Read the caller's input once, into a validated copy: nothing below reads the caller's objects again.
    const part = await prepareAppend(copyAppend(stream, events, options, this.prepareOptions.maxAppendEvents, this.codec.name === 'json', assertStreamName), this.prepareOptions);
    const [result] = await this.pipeline.submitAppend([part]);
    return result!;
  }

  /**
   * Appends to several streams in one atomic commit, each with its own expected version: all parts
   * commit or none does.
   */
  async appendMulti(parts: readonly StreamAppend[]): Promise<MultiAppendResult> {
    this.assertOpen();
    const prepared: PreparedPart[] = [];
    for (const p of copyParts(parts, this.prepareOptions.maxAppendEvents, this.codec.name === 'json', assertStreamName)) prepared.push(await prepareAppend(p, this.prepareOptions));
    const results = await this.pipeline.submitAppend(prepared);
    return { results, position: Math.max(...results.map((r) => r.position)) };
  }

  /** Metadata of a stream, or `undefined` if it never existed. */
  async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    this.assertOpen();
    return this.reads.streamInfo(stream);
  }

  /**
   * Reads a stream's events, forwards (default) or backwards, from a version, paging through the
   * store. Throws `STRAND_STREAM_DELETED` for a deleted stream and `STRAND_STREAM_TRUNCATED` if the
   * range reaches truncated history (unless `ifTruncated: 'skip'`). A missing stream reads empty.
   */
  readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    return this.reads.readStream(stream, options);
  }

  /** Reads events in global order from a position, optionally only those of matching streams. */
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    return this.reads.readAll(options);
  }

  /**
   * Follows the log: events whose stream matches `pattern` from a position (inclusive), first from
   * the store, then live as they commit, with no gap or duplicate at the switch. Pull-based: a
   * slow consumer only delays its own reads, and memory stays bounded (recent events come from a
   * shared ring buffer, older ones from the store page by page).
   */
  follow(pattern: string, options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    return this.followers.follow(pattern, options);
  }

  /**
   * {@link EventLog.follow} with each payload as JSON text ({@link JsonTextEvent}) instead of
   * decoded data: with the `json` codec and no read interceptor the stored text is handed on as
   * it is, never parsed, for a consumer that sends events on (the server). Same order, filter,
   * catch-up and live switch as `follow`.
   */
  followJson(pattern: string, options: SubscribeOptions = {}): AsyncIterable<JsonTextEvent> {
    this.assertOpen();
    return this.followers.followJson(pattern, options);
  }

  /**
   * The live subscription primitive: an RxJS Observable of events matching `pattern` from a
   * position (catch-up, then live). Built on {@link EventLog.follow}; unsubscribing stops it.
   */
  subscribe(pattern: string, options: SubscribeOptions = {}): Observable<RecordedEvent> {
    this.assertOpen();
    return this.followers.subscribe(pattern, options);
  }

  /** Resolves once the log's committed position reaches `position` (read-your-writes). */
  async waitForPosition(position: number, timeoutMs = 5000): Promise<void> {
    return this.followers.waitForPosition(position, timeoutMs, () => this.assertOpen());
  }

  /**
   * Lists the children of a hierarchy prefix ('' = the root): each next segment, whether a stream
   * has that exact name, and whether streams exist below it. Paged with `after` and `limit`.
   */
  async listChildren(prefix: string, options: ListChildrenOptions = {}): Promise<HierarchyPage> {
    this.assertOpen();
    return listChildren(this.store, prefix, options);
  }

  /** Counts streams below a hierarchy prefix ('' = all), reading heads page by page. */
  async countStreams(prefix = ''): Promise<number> {
    this.assertOpen();
    return countStreams(this.store, prefix);
  }

  /**
   * Soft-deletes a stream: its events stay (and stay in global reads) but reads of the stream
   * throw `STRAND_STREAM_DELETED` and appends fail unless they pass `recreate: true`.
   */
  async deleteStream(stream: string, options: { expectedVersion?: ExpectedVersion } = {}): Promise<StreamInfo> {
    this.assertOpen();
    return this.maintenance.deleteStream(stream, options);
  }

  /**
   * Removes a stream's events with versions below `version` from the store (they also leave
   * global reads); remaining versions do not change. The new floor is recorded first, so a crash
   * midway never exposes a partial history. Returns the number of events removed.
   */
  async truncateBefore(stream: string, version: number): Promise<{ truncatedBefore: number; removed: number }> {
    this.assertOpen();
    return this.maintenance.truncateBefore(stream, version);
  }

  /**
   * Checks the whole store's invariants (contiguous versions, index consistency, heads, global
   * order); see `verify.ts`. Reads everything once; `onProgress` gets the keys checked so far.
   */
  async verify(onProgress?: (checked: number) => void): Promise<VerifyReport> {
    this.assertOpen();
    return this.maintenance.verify(onProgress);
  }

  /** Asks the store to compact everything (LevelDB: rewrites its files, dropping deleted data). */
  async compact(): Promise<void> {
    this.assertOpen();
    return this.maintenance.compact();
  }

  /** Waits for pending commits, stops followers and closes the store if the log owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unlistenRefresh();
    await this.refreshing;
    await this.pipeline.drained;
    await this.maintenance.close();
    this.followers.wake();
    this.headSubject.complete();
    if (this.ownsStore) await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError();
  }
}
