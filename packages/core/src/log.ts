/**
 * The event log: per-entity streams with optimistic concurrency, a gapless global order, group
 * commit, reads, hierarchy browsing, truncation and live subscriptions, on any abstract-level store.
 * Commit path: docs/design/0002-commit-path.md. Subscriptions: docs/design/0003-subscriptions.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { AbstractLevel } from 'abstract-level';
import { BehaviorSubject, Observable } from 'rxjs';
import { type PayloadCodec, type StoredHead, builtInCodecs, decodeHead, decodeRecord, encodeHead, encodeRecord, jsonCodec, meta } from './codec.js';
import { type BatchOp, HookTx } from './commit-tx.js';
import {
  describeValue,
  DuplicateEventIdError,
  EventTooLargeError,
  type ExpectedVersion,
  InvalidArgumentError,
  InvalidEventError,
  LogClosedError,
  StorageUnavailableError,
  StrandError,
  StreamDeletedError,
  StreamTruncatedError,
  TimeoutError,
  WrongExpectedVersionError,
} from './errors.js';
import { type CachedHead, HeadCache } from './head-cache.js';
import { Space, globalKey, headKey, headRangeBelow, metaKey, positionOfGlobalKey, streamKey, streamPrefix } from './keys.js';
import { LiveRing } from './live-ring.js';
import { type BatchIterator, type PageSource, paged, readAhead } from './paged.js';
import { type VerifyReport, verifyStore } from './verify.js';
import { assertPrefix, assertStreamName, compilePattern, decodeName } from './names.js';
import { type AppendInterceptor, type CommitHook, type Logger, type ReadInterceptor, type Sublevel, silentLogger, type WorkKind, type WorkMeter } from './plugins.js';
import type {
  AppendOptions,
  AppendResult,
  Durability,
  EventInput,
  HierarchyEntry,
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
import { assertCount, assertEvents, assertExpectedVersion } from './validate.js';

/** Any abstract-level database or sublevel. */
// biome-ignore lint/suspicious/noExplicitAny: the log works with every abstract-level implementation.
export type AnyLevel = AbstractLevel<any, any, any>;

/** Options of {@link EventLog.open}. */
export interface EventLogOptions {
  /**
   * The store: an abstract-level database or sublevel (memory-level, classic-level, S3Level...).
   * The log opens it if needed and closes it on `close()` only if `ownsStore` is true.
   */
  store: AnyLevel;
  /** Close the store when the log closes. Default false. */
  ownsStore?: boolean;
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
   * previous one is acknowledged, which pays off when a write is a network round trip (S3:
   * `openS3Log` sets 4). Only for stores whose `batch()` makes its writes visible to reads when it
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

interface PreparedEvent {
  id: string;
  type: string;
  data: unknown;
  bytes: Uint8Array;
  metadata: Record<string, unknown> | undefined;
  schemaVersion: number | undefined;
  idGiven: boolean;
}

interface PreparedPart {
  stream: string;
  prefix: Uint8Array;
  events: PreparedEvent[];
  expected: ExpectedVersion;
  recreate: boolean;
}

type Deferred<T> = { resolve: (v: T) => void; reject: (e: unknown) => void };

type Request =
  | ({ kind: 'append'; parts: PreparedPart[] } & Deferred<AppendResult[]>)
  | ({ kind: 'head'; stream: string; change: (head: CachedHead) => StoredHead } & Deferred<StoredHead>);

const FORMAT_VERSION = 1;
/** Store reads fetch pages that grow from PAGE to MAX_PAGE: short reads stay cheap, long ones pay few round trips to the store's thread. */
const PAGE = 256;
const MAX_PAGE = 1024;
const VALUE_OPTS = { keyEncoding: 'view', valueEncoding: 'view' } as const;
// classic-level ends a nextv() after 16 KiB by default, i.e. ~50 events a round trip to its thread
// pool; reads ask for whole pages instead (other stores ignore the option).
const READ_OPTS = { ...VALUE_OPTS, highWaterMarkBytes: 1 << 20 } as const;
const EMPTY: readonly never[] = [];

/** classic-level's `sync` write option; abstract-level's types do not declare it. */
function writeOptions(sync: boolean): typeof VALUE_OPTS {
  const options = { ...VALUE_OPTS, sync };
  return options;
}

/**
 * An open event log. One instance owns its store (or sublevel) for writing: open it once per
 * process and share it. All methods validate their arguments and throw typed `StrandError`s.
 */
export class EventLog {
  private readonly store: AnyLevel;
  private readonly ownsStore: boolean;
  private readonly durability: Durability;
  /** The payload codec in use (recorded in the store). */
  readonly codec: PayloadCodec;
  private readonly maxEventBytes: number;
  private readonly maxAppendEvents: number;
  private readonly maxGroupSize: number;
  private readonly appendInterceptors: AppendInterceptor[];
  private readonly readInterceptors: ReadInterceptor[];
  private readonly commitHooks: CommitHook[];
  private readonly clock: () => number;
  private readonly newId: () => string;
  private readonly logger: Logger;
  private readonly heads: HeadCache;
  private readonly ring: LiveRing;
  private readonly queue: Request[] = [];
  private committing = false;
  private drained: Promise<void> = Promise.resolve();
  private readonly pipelineDepth: number;
  /** Heads written by groups in flight (not yet acknowledged): the next group builds on them. */
  private readonly speculative = new Map<string, CachedHead>();
  /** First position of the next group (above `lastPosition` while groups are in flight). */
  private nextPosition: number;
  /** Resolves true once every group issued so far committed, false if one failed. */
  private tail: Promise<boolean> = Promise.resolve(true);
  /** Groups whose write started and that are not acknowledged (or failed) yet. */
  private groupsInFlight = 0;
  /** Bumped when a failure discards the speculative state. */
  private pipelineGen = 0;
  private readonly workMeters: WorkMeter[] = [];
  /** Wakes the commit loop while it waits for a group in flight (an acknowledgement or a new request). */
  private wakeLoop: (() => void) | undefined;
  private closed = false;
  private lastPosition: number;
  private commitWaiters: Array<() => void> = [];
  private readonly headSubject: BehaviorSubject<number>;

  /** The last committed global position, as an observable (emits after every commit). */
  readonly head$: Observable<number>;

  private constructor(options: Required<Pick<EventLogOptions, 'store'>> & EventLogOptions, codec: PayloadCodec, lastPosition: number) {
    this.store = options.store;
    this.ownsStore = options.ownsStore ?? false;
    this.durability = options.durability ?? 'sync';
    this.codec = codec;
    this.maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
    this.maxAppendEvents = options.maxAppendEvents ?? 10_000;
    this.maxGroupSize = options.maxGroupSize ?? 1024;
    this.pipelineDepth = options.pipelineDepth ?? 1;
    this.nextPosition = lastPosition + 1;
    this.appendInterceptors = [...(options.appendInterceptors ?? [])];
    this.readInterceptors = [...(options.readInterceptors ?? [])];
    this.commitHooks = [...(options.commitHooks ?? [])];
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    this.logger = options.logger ?? silentLogger;
    this.heads = new HeadCache(options.headCacheSize ?? 10_000);
    this.ring = new LiveRing(options.liveBufferSize ?? 8192, lastPosition);
    this.lastPosition = lastPosition;
    this.headSubject = new BehaviorSubject(lastPosition);
    this.head$ = this.headSubject.asObservable();
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
    const store = options.store;
    try {
      if (store.status === 'opening' || store.status === 'closed') await store.open();
    } catch (cause) {
      throw mapOpenError(cause);
    }
    const formatBytes = (await store.get(metaKey('format'), VALUE_OPTS)) as Uint8Array | undefined;
    const requested = typeof options.codec === 'string' ? builtInCodecs.get(options.codec) : options.codec;
    if (typeof options.codec === 'string' && requested === undefined) {
      throw new InvalidArgumentError(`Unknown codec "${options.codec}"; built-in codecs are ${[...builtInCodecs.keys()].join(', ')}, or pass a PayloadCodec object.`);
    }
    let codec: PayloadCodec;
    if (formatBytes === undefined) {
      codec = requested ?? jsonCodec;
      await store.put(metaKey('format'), meta.encode({ format: FORMAT_VERSION, codec: codec.name, created: Date.now() }), writeOptions(true));
    } else {
      const stored = meta.decode(formatBytes) as { format: number; codec: string };
      if (stored.format !== FORMAT_VERSION) {
        throw new InvalidArgumentError(`This log has format ${stored.format}; this version of Strand reads format ${FORMAT_VERSION}. Upgrade Strand.`);
      }
      if (requested !== undefined && requested.name !== stored.codec) {
        throw new InvalidArgumentError(`This log was created with the "${stored.codec}" codec; open it with that codec (or none) instead of "${requested.name}".`);
      }
      const found = requested ?? builtInCodecs.get(stored.codec);
      if (found === undefined) {
        throw new InvalidArgumentError(`This log was created with the custom codec "${stored.codec}"; pass it as the codec option to open it.`);
      }
      codec = found;
    }
    let last = 0;
    for await (const key of store.keys({ gte: Uint8Array.of(Space.global), lt: Uint8Array.of(Space.global + 1), reverse: true, limit: 1, keyEncoding: 'view' })) {
      last = (key as Uint8Array).length === 9 ? positionOfGlobalKey(key as Uint8Array) : 0;
    }
    return new EventLog(options, codec, last);
  }

  /** The last committed global position (0 for an empty log). */
  get position(): number {
    return this.lastPosition;
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
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('append options must be an object.');
    const part = await this.prepare({ stream, events, expectedVersion: options.expectedVersion ?? 'any', recreate: options.recreate ?? false });
    const [result] = await this.submitAppend([part]);
    return result!;
  }

  /**
   * Appends to several streams in one atomic commit, each with its own expected version: all parts
   * commit or none does.
   */
  async appendMulti(parts: readonly StreamAppend[]): Promise<MultiAppendResult> {
    this.assertOpen();
    if (!Array.isArray(parts) || parts.length === 0) throw new InvalidArgumentError('appendMulti needs a non-empty array of { stream, events, expectedVersion }.');
    if (parts.length > 1000) throw new InvalidArgumentError(`appendMulti takes at most 1000 streams, got ${parts.length}.`);
    const prepared: PreparedPart[] = [];
    const seen = new Set<string>();
    for (const p of parts) {
      if (p === null || typeof p !== 'object') throw new InvalidArgumentError('each appendMulti part must be an object { stream, events, expectedVersion }.');
      const part = await this.prepare({ stream: p.stream, events: p.events, expectedVersion: p.expectedVersion ?? 'any', recreate: p.recreate ?? false });
      if (seen.has(part.stream)) throw new InvalidArgumentError(`Stream "${part.stream}" appears twice in one appendMulti; merge its events into one part.`);
      seen.add(part.stream);
      prepared.push(part);
    }
    const results = await this.submitAppend(prepared);
    return { results, position: Math.max(...results.map((r) => r.position)) };
  }

  private async prepare(p: { stream: unknown; events: unknown; expectedVersion: unknown; recreate: unknown }): Promise<PreparedPart> {
    assertStreamName(p.stream);
    assertExpectedVersion(p.expectedVersion);
    assertEvents(p.events, this.maxAppendEvents);
    const stream = p.stream;
    let events: readonly EventInput[] = p.events;
    for (const interceptor of this.appendInterceptors) {
      events = await interceptor.onAppend(events, { stream });
      assertEvents(events, this.maxAppendEvents);
    }
    const prepared = events.map((e, index): PreparedEvent => {
      let bytes: Uint8Array;
      try {
        bytes = this.codec.encode(e.data, { stream, type: e.type });
      } catch (cause) {
        if (cause instanceof StrandError) throw cause;
        throw new InvalidEventError(`data of event ${index} (${e.type}) cannot be encoded by the ${this.codec.name} codec: ${(cause as Error).message}`, { index, type: e.type });
      }
      const metaSize = e.metadata === undefined ? 0 : meta.encode(e.metadata).length;
      if (bytes.length + metaSize > this.maxEventBytes) throw new EventTooLargeError(bytes.length + metaSize, this.maxEventBytes, e.type);
      return {
        id: e.id ?? this.newId(),
        idGiven: e.id !== undefined,
        type: e.type,
        data: e.data,
        bytes,
        metadata: e.metadata,
        schemaVersion: e.schemaVersion,
      };
    });
    return { stream, prefix: streamPrefix(stream), events: prepared, expected: p.expectedVersion, recreate: p.recreate === true };
  }

  private submitAppend(parts: PreparedPart[]): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'append', parts, resolve, reject });
      this.kick();
    });
  }

  private submitHead(stream: string, change: (head: CachedHead) => StoredHead): Promise<StoredHead> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'head', stream, change, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.committing) {
      this.wakeLoop?.();
      return;
    }
    this.committing = true;
    this.drained = this.commitLoop();
  }

  /**
   * The single writer. Takes every queued request, checks it against the stream heads (as left by
   * earlier requests of the same group and by groups still in flight), assigns versions and
   * gapless positions, and writes the whole group as one atomic, synced batch. Requests that arrive
   * meanwhile form the next group; up to `pipelineDepth` groups are written at once, and they are
   * acknowledged strictly in order.
   */
  private async commitLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.queue.length > 0 && this.groupsInFlight < this.pipelineDepth) {
          const group = this.queue.splice(0, this.maxGroupSize);
          try {
            await this.issueGroup(group);
          } catch (error) {
            // Only reached on bugs; fail the group rather than wedge the log.
            this.logger.error({ err: error }, 'commit group failed');
            for (const r of group) r.reject(error);
          }
          continue;
        }
        if (this.groupsInFlight === 0) break;
        // Woken by a group's acknowledgement, or by a new request (which waits if the pipeline is full).
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        this.wakeLoop = undefined;
      }
    } finally {
      // Cleared in the same synchronous step that saw the queue empty: a request queued by a
      // continuation of the last group's callers must find the flag down and start a new loop.
      this.committing = false;
    }
  }

  /** Validates a group and starts its write; its acknowledgement follows the previous group's. */
  private async issueGroup(group: Request[]): Promise<void> {
    const working = new Map<string, CachedHead>();
    await this.loadHeads(group, working);
    const pending = new Map<string, RecordedEvent[]>();
    const overlay = new Map<string, unknown>();
    const ops: BatchOp[] = [];
    const accepted: Array<{ req: Request; value: AppendResult[] | StoredHead }> = [];
    const newEvents: Array<{ position: number; bytes: Uint8Array; event: RecordedEvent }> = [];
    let next = this.nextPosition;
    const now = this.clock();

    for (const req of group) {
      try {
        if (req.kind === 'head') {
          const head = req.change(working.get(req.stream) ?? null);
          working.set(req.stream, head);
          ops.push({ type: 'put', key: headKey(req.stream), value: encodeHead(head) });
          accepted.push({ req, value: head });
          continue;
        }
        const replay = await this.checkReplay(req.parts, working, pending);
        if (replay) {
          accepted.push({ req, value: replay });
          continue;
        }
        const results: AppendResult[] = [];
        const reqOps: BatchOp[] = [];
        const reqEvents: typeof newEvents = [];
        const heads = new Map<string, StoredHead>();
        let pos = next;
        for (const part of req.parts) {
          const head = working.get(part.stream) ?? null;
          this.checkExpected(part, head);
          const base = head?.version ?? 0;
          const recorded: RecordedEvent[] = [];
          part.events.forEach((e, i) => {
            const version = base + i + 1;
            const position = pos++;
            const fields = { stream: part.stream, version, position, type: e.type, id: e.id, timestamp: now, metadata: e.metadata, schemaVersion: e.schemaVersion };
            const bytes = encodeRecord({ ...fields, data: e.bytes });
            reqOps.push({ type: 'put', key: globalKey(position), value: bytes });
            reqOps.push({ type: 'put', key: streamKey(part.prefix, version), value: bytes });
            const event: RecordedEvent = { ...fields, data: e.data };
            recorded.push(event);
            reqEvents.push({ position, bytes, event });
          });
          const last = recorded[recorded.length - 1]!;
          const newHead: StoredHead = {
            version: last.version,
            lastPosition: last.position,
            created: head?.created ?? now,
            truncatedBefore: head?.truncatedBefore ?? 1,
            deleted: false,
            lastId: last.id,
          };
          heads.set(part.stream, newHead);
          reqOps.push({ type: 'put', key: headKey(part.stream), value: encodeHead(newHead) });
          results.push({ stream: part.stream, version: last.version, firstPosition: recorded[0]!.position, position: last.position, events: recorded, idempotent: false });
        }
        if (this.commitHooks.length > 0) {
          const tx = new HookTx(overlay);
          const all = results.flatMap((r) => r.events).map((e) => this.intercept(e)).filter((e): e is RecordedEvent => e !== undefined);
          for (const hook of this.commitHooks) await hook.onCommit(all, tx);
          tx.merge(reqOps);
        }
        // Accept: publish this request's effects to the group.
        for (const [stream, head] of heads) working.set(stream, head);
        for (const r of results) pending.set(r.stream, [...(pending.get(r.stream) ?? []), ...r.events]);
        for (const op of reqOps) ops.push(op);
        for (const e of reqEvents) newEvents.push(e);
        next = pos;
        accepted.push({ req, value: results });
      } catch (error) {
        req.reject(error);
      }
    }
    if (accepted.length === 0) return;
    // Started now, awaited in order: with a pipeline, later groups are written meanwhile.
    const write = ops.length > 0 ? (this.store.batch(ops as never, writeOptions(this.durability === 'sync')) as Promise<void>) : Promise.resolve();
    write.catch(() => {});
    for (const [stream, head] of working) this.speculative.set(stream, head);
    this.nextPosition = next;
    const gen = this.pipelineGen;
    const previous = this.tail;
    this.groupsInFlight++;
    const acknowledge = async (): Promise<boolean> => {
      let failure: unknown;
      if (!(await previous)) failure = new Error('an earlier group commit in the pipeline failed');
      else {
        try {
          await write;
        } catch (cause) {
          failure = cause;
        }
      }
      if (failure !== undefined) {
        const error = new StorageUnavailableError('append', failure);
        this.logger.error({ err: failure }, 'group commit failed');
        for (const a of accepted) a.req.reject(error);
        // Everything built on this group is void: start again from the acknowledged state.
        // (Heads read into `working` from the store were never cached, so nothing else to undo.)
        if (gen === this.pipelineGen) {
          this.pipelineGen++;
          this.speculative.clear();
          this.nextPosition = this.lastPosition + 1;
          this.tail = Promise.resolve(true);
        }
        return false;
      }
      for (const [stream, head] of working) {
        this.heads.set(stream, head);
        if (this.speculative.get(stream) === head) this.speculative.delete(stream);
      }
      for (const e of newEvents) this.ring.push(e.position, e.bytes);
      if (next - 1 > this.lastPosition) {
        this.lastPosition = next - 1;
        const waiters = this.commitWaiters;
        this.commitWaiters = [];
        for (const w of waiters) w();
        this.headSubject.next(this.lastPosition);
      }
      for (const a of accepted) (a.req.resolve as (v: unknown) => void)(a.value);
      return true;
    };
    this.tail = acknowledge().finally(() => {
      this.groupsInFlight--;
      this.wakeLoop?.();
    });
  }

  private async loadHeads(group: Request[], working: Map<string, CachedHead>): Promise<void> {
    const missing: string[] = [];
    for (const req of group) {
      const streams = req.kind === 'head' ? [req.stream] : req.parts.map((p) => p.stream);
      for (const s of streams) {
        if (working.has(s)) continue;
        const cached = this.speculative.has(s) ? this.speculative.get(s) : this.heads.get(s);
        if (cached !== undefined) working.set(s, cached);
        else {
          working.set(s, null);
          missing.push(s);
        }
      }
    }
    if (missing.length === 0) return;
    let values: Array<Uint8Array | undefined>;
    try {
      values = (await this.store.getMany(missing.map(headKey), VALUE_OPTS)) as Array<Uint8Array | undefined>;
    } catch (cause) {
      const error = new StorageUnavailableError('reading stream heads', cause);
      for (const r of group) r.reject(error);
      throw error;
    }
    missing.forEach((s, i) => {
      const v = values[i];
      working.set(s, v === undefined ? null : decodeHead(v));
    });
  }

  private checkExpected(part: PreparedPart, head: CachedHead): void {
    if (head?.deleted && !part.recreate) throw new StreamDeletedError(part.stream);
    const actual = head === null ? -1 : head.version;
    const e = part.expected;
    const ok =
      e === 'any' ||
      (e === 'no_stream' && head === null) ||
      (e === 'stream_exists' && head !== null) ||
      (typeof e === 'number' && (head?.version ?? 0) === e);
    if (!ok) throw new WrongExpectedVersionError(part.stream, e, actual);
  }

  /**
   * A retry of an append that already committed: every event id was given by the caller and the
   * same ids sit at exactly the versions this append would have produced the first time.
   */
  private async checkReplay(parts: PreparedPart[], working: Map<string, CachedHead>, pending: Map<string, RecordedEvent[]>): Promise<AppendResult[] | undefined> {
    const results: AppendResult[] = [];
    for (const part of parts) {
      if (!part.events.every((e) => e.idGiven)) return undefined;
      const head = working.get(part.stream) ?? null;
      if (head === null) return undefined;
      const e = part.expected;
      const k = part.events.length;
      let base: number;
      if (typeof e === 'number' || e === 'no_stream') {
        base = e === 'no_stream' ? 0 : e;
        if (base >= head.version) return undefined;
      } else {
        if (head.lastId !== part.events[k - 1]!.id) return undefined;
        base = head.version - k;
      }
      if (base < 0 || base + k > head.version) return undefined;
      const stored = await this.eventsAt(part, base + 1, base + k, pending);
      const matches = stored.length === k && stored.every((s, i) => s.id === part.events[i]!.id);
      if (!matches) {
        const clash = part.events.find((ev) => stored.some((s) => s.id === ev.id));
        if (clash) throw new DuplicateEventIdError(part.stream, clash.id);
        return undefined;
      }
      results.push({ stream: part.stream, version: base + k, firstPosition: stored[0]!.position, position: stored[k - 1]!.position, events: stored, idempotent: true });
    }
    return results;
  }

  private async eventsAt(part: PreparedPart, from: number, to: number, pending: Map<string, RecordedEvent[]>): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    const values = await this.store.values({ gte: streamKey(part.prefix, from), lte: streamKey(part.prefix, to), ...VALUE_OPTS }).all();
    for (const v of values) out.push(decodeRecord(v as Uint8Array, this.codec));
    for (const p of pending.get(part.stream) ?? EMPTY) if (p.version >= from && p.version <= to && !out.some((o) => o.version === p.version)) out.push(p);
    out.sort((a, b) => a.version - b.version);
    return out;
  }

  private intercept(event: RecordedEvent): RecordedEvent | undefined {
    let e: RecordedEvent | undefined = event;
    for (const i of this.readInterceptors) {
      e = i.onRead(e);
      if (e === undefined) return undefined;
    }
    return e;
  }

  /** Metadata of a stream, or `undefined` if it never existed. */
  async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    this.assertOpen();
    assertStreamName(stream);
    const head = await this.readHead(stream);
    if (head === null) return undefined;
    return { name: stream, version: head.version, lastPosition: head.lastPosition, created: head.created, truncatedBefore: head.truncatedBefore, deleted: head.deleted };
  }

  private async readHead(stream: string): Promise<CachedHead> {
    const cached = this.heads.get(stream);
    if (cached !== undefined) return cached;
    const v = (await this.store.get(headKey(stream), VALUE_OPTS)) as Uint8Array | undefined;
    return v === undefined ? null : decodeHead(v);
  }

  /**
   * Reads a stream's events, forwards (default) or backwards, from a version, paging through the
   * store. Throws `STRAND_STREAM_DELETED` for a deleted stream and `STRAND_STREAM_TRUNCATED` if the
   * range reaches truncated history (unless `ifTruncated: 'skip'`). A missing stream reads empty.
   */
  readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    assertStreamName(stream);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readStream options must be an object.');
    assertCount('from', options.from, { min: 0 });
    assertCount('limit', options.limit, { min: 0 });
    const direction = options.direction ?? 'forwards';
    if (direction !== 'forwards' && direction !== 'backwards') throw new InvalidArgumentError(`direction must be 'forwards' or 'backwards', got ${describeValue(direction)}.`);
    const ifTruncated = options.ifTruncated ?? 'error';
    if (ifTruncated !== 'error' && ifTruncated !== 'skip') throw new InvalidArgumentError(`ifTruncated must be 'error' or 'skip'.`);
    return this.readStreamPages(stream, direction, options.from, options.limit ?? Number.POSITIVE_INFINITY, ifTruncated);
  }

  private readStreamPages(stream: string, direction: 'forwards' | 'backwards', from: number | undefined, limit: number, ifTruncated: 'error' | 'skip'): AsyncIterable<RecordedEvent> {
    return paged(async () => {
      const head = await this.readHead(stream);
      if (head === null) return undefined;
      if (head.deleted) throw new StreamDeletedError(stream);
      if (limit === 0) return undefined;
      const floor = head.truncatedBefore;
      const prefix = streamPrefix(stream);
      let lo: number;
      let hi: number;
      if (direction === 'forwards') {
        lo = Math.max(from ?? 1, 1);
        if (lo < floor) {
          if (ifTruncated === 'error') throw new StreamTruncatedError(stream, lo, floor);
          lo = floor;
        }
        hi = head.version;
      } else {
        hi = Math.min(from ?? head.version, head.version);
        lo = Number.isFinite(limit) ? Math.max(1, hi - limit + 1) : 1;
        if (lo < floor) {
          if (ifTruncated === 'error' && hi >= 1) throw new StreamTruncatedError(stream, lo, floor);
          lo = floor;
        }
      }
      if (lo > hi) return undefined;
      return this.eventPages({ gte: streamKey(prefix, lo), lte: streamKey(prefix, hi), reverse: direction === 'backwards' }, limit, hi - lo + 1, undefined);
    });
  }

  /** Reads events in global order from a position, optionally only those of matching streams. */
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readAll options must be an object.');
    assertCount('from', options.from, { min: 0 });
    assertCount('to', options.to, { min: 0 });
    assertCount('limit', options.limit, { min: 0 });
    const match = options.pattern === undefined ? undefined : compilePattern(options.pattern);
    return this.readAllPages(Math.max(options.from ?? 1, 1), options.to ?? this.lastPosition, options.limit ?? Number.POSITIVE_INFINITY, match?.matches);
  }

  private readAllPages(from: number, to: number, limit: number, matches: ((s: string) => boolean) | undefined): AsyncIterable<RecordedEvent> {
    return paged(async () => {
      if (from > to || limit === 0) return undefined;
      return this.eventPages({ gte: globalKey(from), lte: globalKey(to) }, limit, to - from + 1, matches);
    });
  }

  /**
   * Decoded, intercepted events of a key range holding `span` records, page by page with
   * read-ahead, at most `limit` of them, only those of matching streams if `matches` is given.
   */
  private eventPages(range: { gte: Uint8Array; lte: Uint8Array; reverse?: boolean }, limit: number, span: number, matches: ((s: string) => boolean) | undefined): PageSource<RecordedEvent> {
    let remaining = limit;
    // Filtered or intercepted reads may drop events, so only an unfiltered read caps its reads.
    const budget = matches === undefined && this.readInterceptors.length === 0 ? Math.min(limit, span) : span;
    const source = readAhead(this.store.values({ ...range, ...READ_OPTS }) as BatchIterator<Uint8Array>, PAGE, MAX_PAGE, budget);
    return {
      next: async () => {
        if (remaining <= 0) return undefined;
        const page = await source.next();
        if (page === undefined) return undefined;
        const out: RecordedEvent[] = [];
        for (const bytes of page) {
          const raw = decodeRecord(bytes, this.codec);
          if (matches !== undefined && !matches(raw.stream)) continue;
          const e = this.intercept(raw);
          if (e === undefined) continue;
          out.push(e);
          if (--remaining === 0) break;
        }
        return out;
      },
      close: () => source.close(),
    };
  }

  /**
   * Follows the log: events whose stream matches `pattern` from a position (inclusive), first from
   * the store, then live as they commit, with no gap or duplicate at the switch. Pull-based: a
   * slow consumer only delays its own reads, and memory stays bounded (recent events come from a
   * shared ring buffer, older ones from the store page by page).
   */
  follow(pattern: string, options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const match = compilePattern(pattern);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('follow options must be an object.');
    if (options.from !== 'end') assertCount('from', options.from, { min: 0 });
    const from = options.from === 'end' ? this.lastPosition + 1 : Math.max(options.from ?? 1, 1);
    return this.followFrom(match.matches, from, options.signal);
  }

  private followFrom(matches: (s: string) => boolean, from: number, signal: AbortSignal | undefined): AsyncIterable<RecordedEvent> {
    let next = from;
    let store: PageSource<RecordedEvent> | undefined;
    let storeEnd = 0;
    const stopped = () => this.closed || signal?.aborted === true;
    const source: PageSource<RecordedEvent> = {
      next: async () => {
        if (stopped()) return undefined;
        if (next > this.lastPosition) {
          await this.nextCommit(signal);
          return [];
        }
        const upTo = this.lastPosition;
        if (store === undefined && this.ring.has(next)) {
          // Live: recent events come decoded from the shared ring, no store read.
          const out: RecordedEvent[] = [];
          while (next <= upTo && this.ring.has(next)) {
            const raw = this.ring.event(next, this.codec);
            next++;
            if (!matches(raw.stream)) continue;
            const e = this.intercept(raw);
            if (e !== undefined) out.push(e);
          }
          return out;
        }
        // Behind the ring: read the store up to the head as it is now, to the end of that range
        // (truncated history leaves holes in global order), then look at the ring again.
        if (store === undefined) {
          storeEnd = upTo;
          store = this.eventPages({ gte: globalKey(next), lte: globalKey(upTo) }, Number.POSITIVE_INFINITY, upTo - next + 1, matches);
        }
        const page = await store.next();
        if (page !== undefined) return page;
        const s = store;
        store = undefined;
        next = storeEnd + 1;
        await s.close();
        return [];
      },
      close: async () => {
        const s = store;
        store = undefined;
        await s?.close();
      },
    };
    return paged(async () => source, stopped);
  }

  private nextCommit(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || signal?.aborted) return resolve();
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.commitWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * The live subscription primitive: an RxJS Observable of events matching `pattern` from a
   * position (catch-up, then live). Built on {@link EventLog.follow}; unsubscribing stops it.
   */
  subscribe(pattern: string, options: SubscribeOptions = {}): Observable<RecordedEvent> {
    const iterable = this.follow(pattern, options);
    return new Observable<RecordedEvent>((subscriber) => {
      const abort = new AbortController();
      const outer = options.signal;
      const onOuter = () => abort.abort();
      outer?.addEventListener('abort', onOuter, { once: true });
      const iterator = iterable[Symbol.asyncIterator]();
      (async () => {
        try {
          for (;;) {
            if (abort.signal.aborted) break;
            const r = await iterator.next();
            if (r.done || abort.signal.aborted) break;
            subscriber.next(r.value);
          }
          subscriber.complete();
        } catch (error) {
          subscriber.error(error);
        }
      })();
      return () => {
        abort.abort();
        outer?.removeEventListener('abort', onOuter);
        void iterator.return?.(undefined);
        // Wake the follower if it is waiting for a commit.
        this.wakeFollowers();
      };
    });
  }

  private wakeFollowers(): void {
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once the log's committed position reaches `position` (read-your-writes). */
  async waitForPosition(position: number, timeoutMs = 5000): Promise<void> {
    assertCount('position', position, { min: 0, optional: false });
    assertCount('timeoutMs', timeoutMs, { min: 0, optional: false });
    const deadline = Date.now() + timeoutMs;
    while (this.lastPosition < position) {
      this.assertOpen();
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`position ${position} (log at ${this.lastPosition})`, timeoutMs, { position });
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), left);
      await this.nextCommit(abort.signal);
      clearTimeout(timer);
    }
  }

  /**
   * Lists the children of a hierarchy prefix ('' = the root): each next segment, whether a stream
   * has that exact name, and whether streams exist below it. Paged with `after` and `limit`.
   */
  async listChildren(prefix: string, options: ListChildrenOptions = {}): Promise<HierarchyPage> {
    this.assertOpen();
    assertPrefix(prefix);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('listChildren options must be an object.');
    assertCount('limit', options.limit, { min: 1 });
    const limit = Math.min(options.limit ?? 100, 10_000);
    const { gte, lt } = headRangeBelow(prefix);
    const skip = prefix === '' ? 1 : gte.length;
    let lower = gte;
    if (options.after !== undefined) {
      if (typeof options.after !== 'string' || options.after.includes('/')) throw new InvalidArgumentError('after must be a single segment from a previous page.');
      lower = afterSubtree(headKey(prefix === '' ? options.after : `${prefix}/${options.after}`));
    }
    const entries: HierarchyEntry[] = [];
    while (entries.length <= limit) {
      const keys = (await this.store.keys({ gte: lower, lt, limit: 2, keyEncoding: 'view' }).all()) as Uint8Array[];
      const first = keys[0];
      if (first === undefined) break;
      const rest = first.subarray(skip);
      const sep = rest.indexOf(0x01);
      const segBytes = sep < 0 ? rest : rest.subarray(0, sep);
      const childKey = first.subarray(0, skip + segBytes.length);
      const isStream = sep < 0;
      let hasChildren = !isStream;
      if (isStream) {
        const second = keys[1];
        hasChildren = second !== undefined && second.length > childKey.length && startsWith(second, childKey) && second[childKey.length] === 0x01;
      }
      const segment = decodeName(segBytes);
      entries.push({ name: prefix === '' ? segment : `${prefix}/${segment}`, segment, isStream, hasChildren });
      lower = afterSubtree(childKey);
    }
    if (entries.length > limit) {
      entries.length = limit;
      return { entries, next: entries[limit - 1]!.segment };
    }
    return { entries };
  }

  /**
   * Soft-deletes a stream: its events stay (and stay in global reads) but reads of the stream
   * throw `STRAND_STREAM_DELETED` and appends fail unless they pass `recreate: true`.
   */
  async deleteStream(stream: string, options: { expectedVersion?: ExpectedVersion } = {}): Promise<StreamInfo> {
    this.assertOpen();
    assertStreamName(stream);
    const expected = options.expectedVersion ?? 'any';
    assertExpectedVersion(expected);
    const head = await this.submitHead(stream, (h) => {
      if (h === null) throw new WrongExpectedVersionError(stream, expected, -1);
      if (h.deleted) throw new StreamDeletedError(stream);
      if (typeof expected === 'number' ? h.version !== expected : expected === 'no_stream') throw new WrongExpectedVersionError(stream, expected, h.version);
      return { ...h, deleted: true };
    });
    return { name: stream, version: head.version, lastPosition: head.lastPosition, created: head.created, truncatedBefore: head.truncatedBefore, deleted: true };
  }

  /**
   * Removes a stream's events with versions below `version` from the store (they also leave
   * global reads); remaining versions do not change. The new floor is recorded first, so a crash
   * midway never exposes a partial history. Returns the number of events removed.
   */
  async truncateBefore(stream: string, version: number): Promise<{ truncatedBefore: number; removed: number }> {
    this.assertOpen();
    assertStreamName(stream);
    assertCount('version', version, { min: 1, optional: false });
    let previous = 1;
    const head = await this.submitHead(stream, (h) => {
      if (h === null) throw new WrongExpectedVersionError(stream, 'stream_exists', -1);
      if (version > h.version + 1) throw new InvalidArgumentError(`Cannot truncate "${stream}" before version ${version}: it is at version ${h.version} (the most is ${h.version + 1}, which removes everything).`);
      previous = h.truncatedBefore;
      return { ...h, truncatedBefore: Math.max(h.truncatedBefore, version) };
    });
    const removed = await this.removeRange(stream, 1, head.truncatedBefore - 1);
    this.logger.debug({ stream, truncatedBefore: head.truncatedBefore, previous, removed }, 'truncated');
    return { truncatedBefore: head.truncatedBefore, removed };
  }

  private async removeRange(stream: string, from: number, to: number): Promise<number> {
    if (to < from) return 0;
    const prefix = streamPrefix(stream);
    let removed = 0;
    const it = this.store.iterator({ gte: streamKey(prefix, from), lte: streamKey(prefix, to), ...VALUE_OPTS });
    try {
      for (;;) {
        const page = (await it.nextv(1000)) as Array<[Uint8Array, Uint8Array]>;
        if (page.length === 0) break;
        const ops: BatchOp[] = [];
        for (const [key, value] of page) {
          const position = decodeRecord(value, passthrough).position;
          ops.push({ type: 'del', key: globalKey(position) }, { type: 'del', key });
          this.ring.forget(position);
          removed++;
        }
        await this.store.batch(ops as never, writeOptions(this.durability === 'sync'));
      }
    } finally {
      await it.close();
    }
    const compact = (this.store as { compactRange?: (a: Uint8Array, b: Uint8Array, o: object) => Promise<void> }).compactRange;
    if (removed > 0 && typeof compact === 'function') {
      await compact.call(this.store, streamKey(prefix, from), streamKey(prefix, to), { keyEncoding: 'view' });
    }
    return removed;
  }

  /**
   * Checks the whole store's invariants (contiguous versions, index consistency, heads, global
   * order); see `verify.ts`. Reads everything once; `onProgress` gets the keys checked so far.
   */
  async verify(onProgress?: (checked: number) => void): Promise<VerifyReport> {
    this.assertOpen();
    await this.drained;
    return verifyStore(this.store, this.lastPosition, onProgress);
  }

  /** Asks the store to compact everything (LevelDB: rewrites its files, dropping deleted data). */
  async compact(): Promise<void> {
    this.assertOpen();
    const compact = (this.store as { compactRange?: (a: Uint8Array, b: Uint8Array, o: object) => Promise<void> }).compactRange;
    if (typeof compact === 'function') await compact.call(this.store, Uint8Array.of(0x00), Uint8Array.of(0xff), { keyEncoding: 'view' });
  }

  /** Counts streams below a hierarchy prefix ('' = all), reading heads page by page. */
  async countStreams(prefix = ''): Promise<number> {
    this.assertOpen();
    assertPrefix(prefix);
    const { gte, lt } = headRangeBelow(prefix);
    let n = 0;
    const it = this.store.keys({ gte, lt, keyEncoding: 'view' });
    try {
      for (;;) {
        const page = await it.nextv(4096);
        if (page.length === 0) break;
        n += page.length;
      }
    } finally {
      await it.close();
    }
    if (prefix !== '' && (await this.store.get(headKey(prefix), VALUE_OPTS)) !== undefined) n++;
    return n;
  }

  /** Waits for pending commits, stops followers and closes the store if the log owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drained;
    this.wakeFollowers();
    this.headSubject.complete();
    if (this.ownsStore) await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError();
  }
}

/** Reads positions without decoding payloads. */
const passthrough: PayloadCodec = { name: 'raw', encode: (d) => d as Uint8Array, decode: (b) => b };


function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (a.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

/** The first key after `key` and all of its hierarchy descendants (`key 0x01 ...`). */
function afterSubtree(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key, 0);
  out[key.length] = 0x02;
  return out;
}

function mapOpenError(cause: unknown): Error {
  const code = (cause as { code?: string; cause?: { code?: string } })?.cause?.code ?? (cause as { code?: string })?.code;
  if (code === 'LEVEL_LOCKED') return new StrandError('STRAND_LOG_LOCKED', 'closed', 'The log is already open in another process; one process owns a log. Close it there first.', { cause });
  return new StorageUnavailableError('open', cause);
}
