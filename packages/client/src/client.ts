/**
 * `connect({ url, apiKey })`: a Strand server as an `EventStore`. Every method behaves as the
 * embedded log's does and fails with the same `StrandError` classes and codes; subscriptions
 * reconnect with backoff and resume from the last delivered position (no gap, no duplicate).
 * Design: docs/design/0013-server.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type http2 from 'node:http2';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import {
  type AnyLevel,
  type AppendOptions,
  type AppendResult,
  assertStreamName,
  compilePattern,
  type EventInput,
  type EventStore,
  type ExpectedVersion,
  type HierarchyPage,
  InvalidArgumentError,
  InvalidEventError,
  type ListChildrenOptions,
  LogClosedError,
  type MultiAppendResult,
  observeIterator,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type StrandError,
  type StreamAppend,
  type StreamInfo,
  type Sublevel,
  type SubscribeOptions,
} from '@strand/core';
import {
  decodeEvent,
  fromConnectError,
  peekPosition,
  fromErrorDetail,
  fromWireAppendResult,
  fromWireEvent,
  fromWireInfo,
  ServerUnavailableError,
  toWireExpected,
  projectionWire,
  schemaWire,
  snapshotWire,
  toWireInput,
  groupsWire,
  infoWire,
  wire,
} from '@strand/protocol';
import { type JoinGroupOptions, joinRemoteGroup, type RemoteGroupHandler, type RemoteGroupMember } from './group.js';
import { MemoryLevel } from 'memory-level';
import type { Observable } from 'rxjs';
import { StrandAdmin } from './admin.js';
import { RemoteProjections } from './projections.js';
import { RemoteSchemaRegistry } from './schemas.js';
import { RemoteSnapshots } from './snapshots.js';

/**
 * HTTP/2 receive windows of the client (the protocol's default is 65,535 bytes per stream and per
 * connection): a subscription's batch of events (up to 512) fits a stream's window and the
 * batches of many subscriptions the connection's, so the server does not stop for WINDOW_UPDATEs
 * in the middle of one. Credits still bound what a subscription may have in flight.
 */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 8 << 20;

/** Sessions whose connection-level window is widened (the session manager opens them). */
class WideSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<http2.Http2Session>();

  override async request(...args: Parameters<Http2SessionManager['request']>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session !== undefined && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(SESSION_WINDOW);
    }
    return stream;
  }
}

/** Reconnection of subscriptions (and retries of calls that failed to reach the server). */
export interface ReconnectOptions {
  /** First delay, ms. Default 50. */
  initialDelayMs?: number;
  /** Longest delay, ms. Default 5,000. */
  maxDelayMs?: number;
  /** Attempts in a row before giving up with the last error. Default: unlimited for subscriptions. */
  maxAttempts?: number;
}

/** Options of {@link connect}. */
export interface ClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:7070` or `https://strand.example:7070`. */
  url: string;
  /** The API key (`Authorization: Bearer`). */
  apiKey: string;
  /** Wire protocol: `connect` (default, binary protobuf over HTTP/2) or `grpc`. */
  protocol?: 'connect' | 'grpc';
  /** Extra trusted CA certificates (PEM), e.g. for a self-signed server certificate. */
  ca?: string | Buffer;
  /**
   * Where `sublevel()` keeps components' local state (aggregate snapshots, projection
   * checkpoints and read models). Default: a memory-level store, lost on close.
   */
  state?: AnyLevel;
  /** Subscription reconnects. */
  reconnect?: ReconnectOptions;
  /** Events a subscription may have in flight before it grants more credits. Default 1,024. */
  subscriptionWindow?: number;
  /** Heartbeat interval subscriptions ask the server for, ms. Default 5,000; 3 missed = reconnect. */
  heartbeatMs?: number;
  /** How often a call that could not reach the server is retried (appends keep their event ids). Default 3. */
  callRetries?: number;
  /**
   * Accept gzip-compressed responses (large reads over a slow network). Default false: on a LAN
   * or loopback compressing every response costs the server more CPU than the bytes it saves.
   */
  compression?: boolean;
}

type Rpc = Client<typeof wire.EventStoreService>;

/**
 * `Subscribe` read as `SubscribeResponseEncoded` (the same bytes, each event kept encoded), so the
 * client decodes events straight into `RecordedEvent`s (`decodeEvent`) rather than into messages
 * first. The method keeps its name and path; only the reader of its answers differs.
 */
const subscribeEncoded = { ...wire.EventStoreService.method.subscribe, output: wire.SubscribeResponseEncodedSchema };
const SubscribeService = { ...wire.EventStoreService, methods: [subscribeEncoded], method: { subscribe: subscribeEncoded } } as unknown as GenService<{
  subscribe: { methodKind: 'server_streaming'; input: typeof wire.SubscribeRequestSchema; output: typeof wire.SubscribeResponseEncodedSchema };
}>;
type GroupRpc = Client<typeof groupsWire.ConsumerGroupService>;

/** An append waiting to be sent in the next batch. */
interface QueuedAppend {
  readonly req: MessageInitShape<typeof wire.AppendRequestSchema>;
  readonly bytes: number;
  readonly events: number;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Most appends, events and payload bytes one batch carries (below the server's default limits). */
const BATCH_APPENDS = 512;
const BATCH_EVENTS = 2_000;
const BATCH_BYTES = 1024 * 1024;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** True for errors that a reconnect may cure. */
function retryable(e: StrandError): boolean {
  return e.code === 'STRAND_SERVER_UNAVAILABLE' || e.code === 'STRAND_SUBSCRIPTION_ENDED' || (e.code === 'STRAND_LOG_CLOSED' && e.kind === 'closed');
}

/**
 * The events of successive batches as one async iterator, with one resolved promise per event:
 * an async generator's `yield` costs several promise turns per event, which on a catch-up of a
 * million events is most of the client's time after decoding.
 */
class BatchedEvents implements AsyncIterableIterator<RecordedEvent> {
  private batch: readonly RecordedEvent[] = [];
  private index = 0;

  constructor(private readonly batches: AsyncGenerator<readonly RecordedEvent[]>) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<RecordedEvent> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.index < this.batch.length) return Promise.resolve({ value: this.batch[this.index++]!, done: false });
    return this.fill();
  }

  private async fill(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      // Asking for the next batch tells the generator this one was delivered (credits, cursor).
      const r = await this.batches.next();
      if (r.done === true) {
        this.batch = [];
        return { value: undefined, done: true };
      }
      if (r.value.length === 0) continue;
      this.batch = r.value;
      this.index = 1;
      return { value: r.value[0]!, done: false };
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.batch = [];
    await this.batches.return(undefined);
    return { value: undefined, done: true };
  }
}

/** Most decoded events {@link SharedEvents} keeps. */
const SHARED_EVENTS = 4096;

/**
 * Decoded events shared by a client's subscriptions: several subscriptions on overlapping
 * patterns receive the same event, and decode it once, as followers in process share one frozen
 * event from the log's ring. An entry is used only for the very same bytes (an event's position
 * names it, its bytes confirm it).
 */
class SharedEvents {
  private readonly byPosition = new Map<number, { bytes: Buffer; event: RecordedEvent }>();

  decode(bytes: Uint8Array): RecordedEvent {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const position = peekPosition(b);
    const hit = this.byPosition.get(position);
    if (hit?.bytes.equals(b)) return hit.event;
    const event = Object.freeze(decodeEvent(b));
    if (this.byPosition.size >= SHARED_EVENTS) this.byPosition.delete(this.byPosition.keys().next().value!);
    this.byPosition.set(position, { bytes: b, event });
    return event;
  }
}

/** Options of {@link StrandClient.append}: the embedded log's, plus read-your-writes. */
export interface RemoteAppendOptions extends AppendOptions {
  /**
   * Names of projections the server hosts: the append resolves only once each has applied it
   * (read-your-writes across the network). Fails with the projection's typed error when one
   * parks the stream or does not catch up within `waitTimeoutMs` (the append itself is committed).
   */
  waitFor?: readonly string[];
  /** How long to wait for `waitFor`, ms. Default 5,000. */
  waitTimeoutMs?: number;
}

/** A remote Strand server as an {@link EventStore}. Create with {@link connect}. */
export class StrandClient implements EventStore {
  private readonly rpc: Rpc;
  private readonly subscribeRpc: Client<typeof SubscribeService>;
  private readonly groupRpc: GroupRpc;
  private readonly schemaRpc: Client<typeof schemaWire.SchemaRegistryService>;
  private readonly projectionRpc: Client<typeof projectionWire.ProjectionService>;
  private readonly snapshotRpc: Client<typeof snapshotWire.SnapshotService>;
  private readonly infoRpc: Client<typeof infoWire.InfoService>;
  private readonly sessions: Http2SessionManager;
  private readonly options: Required<Pick<ClientOptions, 'subscriptionWindow' | 'heartbeatMs' | 'callRetries'>> & { reconnect: Required<ReconnectOptions> };
  private readonly state: AnyLevel;
  private readonly ownsState: boolean;
  private readonly aborts = new Set<AbortController>();
  private readonly shared = new SharedEvents();
  /** Subscriptions open now: with more than one, they share decoded events. */
  private following = 0;
  private queue: QueuedAppend[] = [];
  private flushScheduled = false;
  private closed = false;

  /** @internal */
  constructor(options: ClientOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('connect needs { url, apiKey }.');
    const { url, apiKey } = options;
    const parsed = parseServerUrl(url);
    if (typeof apiKey !== 'string' || apiKey.length === 0 || !/^[\x21-\x7e]+$/.test(apiKey)) throw new InvalidArgumentError('connect needs { apiKey }: the key the server printed or the one your tenant admin gave you.');
    const r = options.reconnect ?? {};
    this.options = {
      subscriptionWindow: options.subscriptionWindow ?? 1024,
      heartbeatMs: options.heartbeatMs ?? 5000,
      callRetries: options.callRetries ?? 3,
      reconnect: { initialDelayMs: r.initialDelayMs ?? 50, maxDelayMs: r.maxDelayMs ?? 5000, maxAttempts: r.maxAttempts ?? Number.POSITIVE_INFINITY },
    };
    const auth: Interceptor = (next) => (req) => {
      req.header.set('authorization', `Bearer ${apiKey}`);
      return next(req);
    };
    const baseUrl = parsed.origin;
    const nodeOptions = { settings: { initialWindowSize: STREAM_WINDOW }, ...(options.ca === undefined ? {} : { ca: options.ca }) };
    this.sessions = new WideSessionManager(baseUrl, { pingIntervalMs: 10_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 }, nodeOptions);
    const transportOptions = { baseUrl, httpVersion: '2' as const, sessionManager: this.sessions, interceptors: [auth], readMaxBytes: 64 * 1024 * 1024,
      ...(options.compression === true ? {} : { acceptCompression: [] }),
    };
    const transport = options.protocol === 'grpc' ? createGrpcTransport(transportOptions) : createConnectTransport({ ...transportOptions, useBinaryFormat: true });
    this.rpc = createClient(wire.EventStoreService, transport);
    this.subscribeRpc = createClient(SubscribeService, transport);
    this.groupRpc = createClient(groupsWire.ConsumerGroupService, transport);
    this.schemaRpc = createClient(schemaWire.SchemaRegistryService, transport);
    this.projectionRpc = createClient(projectionWire.ProjectionService, transport);
    this.snapshotRpc = createClient(snapshotWire.SnapshotService, transport);
    this.infoRpc = createClient(infoWire.InfoService, transport);
    this.ownsState = options.state === undefined;
    this.state = options.state ?? (new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }) as unknown as AnyLevel);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError('The Strand client');
  }

  /** Runs a call; connection failures are retried (bounded) when `retry` says the call is safe to repeat. */
  private async call<T>(fn: () => Promise<T>, retry: boolean): Promise<T> {
    this.assertOpen();
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const e = fromConnectError(error);
        if (!retry || this.closed || e.code !== 'STRAND_SERVER_UNAVAILABLE' || attempt >= this.options.callRetries) throw e;
        await sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    const { initialDelayMs, maxDelayMs } = this.options.reconnect;
    const cap = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 20));
    return cap / 2 + Math.random() * (cap / 2);
  }

  /** Gives every event an id, so a retried append is recognised by the server as the same append. */
  private static withIds(events: readonly EventInput[]): wire.EventInput[] {
    if (!Array.isArray(events)) throw new InvalidEventError('events must be an array');
    return events.map((e) => toWireInput(e !== null && typeof e === 'object' && e.id === undefined ? { ...e, id: randomUUID() } : e));
  }

  /**
   * Appends issued in the same turn of the event loop travel in one `AppendBatch` request (each
   * keeps its own expected version, result and error), so many appends in flight cost the server
   * one request and one group commit, as they do in process. A lone append is a plain `Append`.
   */
  append(stream: string, events: readonly EventInput[], options: RemoteAppendOptions = {}): Promise<AppendResult> {
    try {
      this.assertOpen();
      const wireEvents = StrandClient.withIds(events);
      const waitFor = options?.waitFor ?? [];
      if (!Array.isArray(waitFor) || waitFor.some((n) => typeof n !== 'string')) throw new InvalidArgumentError('waitFor is an array of projection names.');
      const waitTimeoutMs = options?.waitTimeoutMs ?? 0;
      if (!Number.isSafeInteger(waitTimeoutMs) || waitTimeoutMs < 0 || waitTimeoutMs > 0xffffffff) throw new InvalidArgumentError(`waitTimeoutMs must be an integer >= 0; got ${String(waitTimeoutMs)}.`);
      const req = { stream, events: wireEvents, expectedVersion: toWireExpected(options?.expectedVersion), recreate: options?.recreate === true, waitFor: [...waitFor], waitTimeoutMs };
      let bytes = stream.length;
      for (const e of wireEvents) bytes += e.data.length + e.metadata.length + e.type.length + e.id.length + 16;
      return new Promise<AppendResult>((resolve, reject) => {
        this.queue.push({ req, bytes, events: wireEvents.length, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends the queued appends: batches bounded in appends, events and bytes. */
  private flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    let i = 0;
    while (i < queue.length) {
      const batch: QueuedAppend[] = [];
      let bytes = 0;
      let events = 0;
      while (i < queue.length && batch.length < BATCH_APPENDS) {
        const q = queue[i]!;
        if (batch.length > 0 && (bytes + q.bytes > BATCH_BYTES || events + q.events > BATCH_EVENTS)) break;
        batch.push(q);
        bytes += q.bytes;
        events += q.events;
        i++;
      }
      void this.send(batch);
    }
  }

  private async send(batch: readonly QueuedAppend[]): Promise<void> {
    if (batch.length === 1) {
      const q = batch[0]!;
      try {
        const res = await this.call(() => this.rpc.append(q.req), true);
        q.resolve(fromWireAppendResult(res.result));
      } catch (error) {
        q.reject(error);
      }
      return;
    }
    try {
      const res = await this.call(() => this.rpc.appendBatch({ appends: batch.map((q) => q.req) }), true);
      if (res.outcomes.length !== batch.length) throw new ServerUnavailableError(`the server answered ${res.outcomes.length} of ${batch.length} batched appends`);
      batch.forEach((q, k) => {
        const o = res.outcomes[k]!.outcome;
        if (o.case === 'result') q.resolve(fromWireAppendResult(o.value));
        else if (o.case === 'error') q.reject(fromErrorDetail(o.value));
        else q.reject(new ServerUnavailableError('the server sent an empty append outcome'));
      });
    } catch (error) {
      for (const q of batch) q.reject(error);
    }
  }

  async appendMulti(parts: readonly StreamAppend[]): Promise<MultiAppendResult> {
    this.assertOpen();
    if (!Array.isArray(parts)) throw new InvalidArgumentError('appendMulti needs an array of { stream, events, expectedVersion }.');
    const req = {
      parts: parts.map((p) => ({ stream: p?.stream, events: StrandClient.withIds(p?.events), expectedVersion: toWireExpected(p?.expectedVersion), recreate: p?.recreate === true })),
    };
    const res = await this.call(() => this.rpc.appendMulti(req), true);
    return { results: res.results.map(fromWireAppendResult), position: Number(res.position) };
  }

  readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    assertStreamName(stream);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readStream options must be an object.');
    const { from, direction, limit, ifTruncated } = options;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new InvalidArgumentError(`limit must be a positive integer; got ${String(limit)}.`);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) throw new InvalidArgumentError(`from must be a version >= 1; got ${String(from)}.`);
    const backwards = direction === 'backwards';
    const self = this;
    return (async function* () {
      let next = from ?? 0;
      let left = limit ?? Number.POSITIVE_INFINITY;
      for (;;) {
        const page = await self.call(
          () => self.rpc.readStream({ stream, from: BigInt(next), backwards, limit: Math.min(left, 1000), skipTruncated: ifTruncated === 'skip' }),
          true,
        );
        for (const w of page.events) {
          yield fromWireEvent(w);
          if (--left <= 0) return;
        }
        if (page.done || page.events.length === 0) return;
        next = Number(page.nextFrom);
      }
    })();
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('readAll options must be an object.');
    const { from, limit, pattern, to } = options;
    if (pattern !== undefined) compilePattern(pattern);
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new InvalidArgumentError(`limit must be a positive integer; got ${String(limit)}.`);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) throw new InvalidArgumentError(`from must be a position >= 1; got ${String(from)}.`);
    if (to !== undefined && (!Number.isSafeInteger(to) || to < 0)) throw new InvalidArgumentError(`to must be a position >= 0; got ${String(to)}.`);
    const self = this;
    return (async function* () {
      let next = from ?? 1;
      let end = to === undefined ? 0n : BigInt(to);
      let left = limit ?? Number.POSITIVE_INFINITY;
      if (to === 0) return;
      for (;;) {
        const page = await self.call(() => self.rpc.readAll({ from: BigInt(next), to: end, pattern: pattern ?? '', limit: Math.min(left, 1000) }), true);
        end = page.to;
        for (const w of page.events) {
          yield fromWireEvent(w);
          if (--left <= 0) return;
        }
        if (page.done) return;
        next = Number(page.nextFrom);
      }
    })();
  }

  follow(pattern: string, options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    compilePattern(pattern);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('subscribe options must be an object.');
    const { from, signal } = options;
    if (from !== undefined && from !== 'end' && (!Number.isSafeInteger(from) || from < 1)) throw new InvalidArgumentError(`from must be a position >= 1 or 'end'; got ${String(from)}.`);
    return new BatchedEvents(this.followLoop(pattern, from ?? 1, signal));
  }

  /** Batches of events, each delivered once the caller asks for the next batch. */
  private async *followLoop(pattern: string, from: number | 'end', signal: AbortSignal | undefined): AsyncGenerator<readonly RecordedEvent[]> {
    // The next position to deliver; unknown until the server says where 'end' is.
    let cursor: number | undefined = from === 'end' ? undefined : from;
    const window = this.options.subscriptionWindow;
    let failures = 0;
    const stopped = () => this.closed || signal?.aborted === true;
    this.following++;
    try {
      while (!stopped()) {
        const abort = new AbortController();
        this.aborts.add(abort);
        const onOuter = () => abort.abort();
        signal?.addEventListener('abort', onOuter, { once: true });
        let readingSince = 0;
        const heartbeatMs = this.options.heartbeatMs;
        // A connection that went silent (no events, no heartbeat for 3 intervals) is dead: reconnect.
        const watchdog = setInterval(() => {
          if (readingSince !== 0 && Date.now() - readingSince > 3 * heartbeatMs) abort.abort();
        }, heartbeatMs);
        watchdog.unref();
        try {
          const stream = this.subscribeRpc.subscribe(
            { pattern, from: BigInt(cursor ?? 0), fromEnd: cursor === undefined, credits: window, heartbeatMs },
            { signal: abort.signal },
          );
          const it = stream[Symbol.asyncIterator]();
          let subscriptionId = '';
          let consumed = 0;
          for (;;) {
            readingSince = Date.now();
            const r = await it.next();
            readingSince = 0;
            if (r.done) break;
            const m = r.value.message;
            failures = 0;
            if (m.case === 'started') {
              subscriptionId = m.value.subscriptionId;
              cursor ??= Number(m.value.head) + 1;
            } else if (m.case === 'events') {
              const share = this.following > 1;
              const batch: RecordedEvent[] = [];
              for (const w of m.value.events) {
                const e = share ? this.shared.decode(w) : decodeEvent(w);
                // Never deliver twice, whatever the server resends after a reconnect.
                if (cursor !== undefined && e.position < cursor) continue;
                cursor = e.position + 1;
                batch.push(e);
              }
              if (batch.length > 0) yield batch;
              consumed += m.value.events.length;
              if (consumed >= window / 2) {
                const n = consumed;
                consumed = 0;
                this.rpc.grantCredits({ subscriptionId, events: n }).catch(() => abort.abort());
              }
            }
          }
          // The server ended the stream without an error (it is going away): reconnect.
          if (stopped()) return;
        } catch (error) {
          if (stopped()) return;
          const e = fromConnectError(error);
          if (!abort.signal.aborted && !retryable(e)) throw e;
          if (++failures >= this.options.reconnect.maxAttempts) throw e;
        } finally {
          clearInterval(watchdog);
          signal?.removeEventListener('abort', onOuter);
          this.aborts.delete(abort);
          abort.abort();
        }
        if (stopped()) return;
        await sleep(this.backoff(failures), signal);
      }
    } finally {
      this.following--;
    }
  }

  subscribe(pattern: string, options: SubscribeOptions = {}): Observable<RecordedEvent> {
    // The stream's own signal: stopping the subscription (or the caller's signal) ends the RPC.
    const abort = new AbortController();
    return observeIterator(this.follow(pattern, { ...options, signal: abort.signal }), { signal: options?.signal, onStop: () => abort.abort() });
  }

  async listChildren(prefix: string, options: ListChildrenOptions = {}): Promise<HierarchyPage> {
    const res = await this.call(() => this.rpc.listChildren({ prefix, after: options?.after ?? '', limit: options?.limit ?? 0 }), true);
    return {
      entries: res.entries.map((e) => ({ name: e.name, segment: e.segment, isStream: e.isStream, hasChildren: e.hasChildren })),
      ...(res.next === undefined ? {} : { next: res.next }),
    };
  }

  /**
   * How many streams lie at or below `prefix` ('' = all), of those this key may read, as the
   * embedded `EventLog.countStreams` counts them; `below: true` leaves out `prefix` itself.
   */
  async countStreams(prefix = '', options: { below?: boolean } = {}): Promise<number> {
    const res = await this.call(() => this.rpc.countStreams({ prefix, below: options?.below === true }), true);
    return Number(res.streams);
  }

  async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    const res = await this.call(() => this.rpc.getStreamInfo({ stream }), true);
    return res.info === undefined ? undefined : fromWireInfo(res.info);
  }

  async deleteStream(stream: string, options: { expectedVersion?: ExpectedVersion } = {}): Promise<StreamInfo> {
    const res = await this.call(() => this.rpc.deleteStream({ stream, expectedVersion: toWireExpected(options?.expectedVersion) }), false);
    if (res.info === undefined) throw new InvalidArgumentError('The server sent no stream info.');
    return fromWireInfo(res.info);
  }

  async truncateBefore(stream: string, version: number): Promise<{ truncatedBefore: number; removed: number }> {
    if (!Number.isSafeInteger(version) || version < 1) throw new InvalidArgumentError(`version must be an integer >= 1; got ${String(version)}.`);
    const res = await this.call(() => this.rpc.truncateBefore({ stream, version: BigInt(version) }), true);
    return { truncatedBefore: Number(res.truncatedBefore), removed: Number(res.removed) };
  }

  async headPosition(): Promise<number> {
    const res = await this.call(() => this.rpc.getPosition({}), true);
    return Number(res.position);
  }

  async waitForPosition(position: number, timeoutMs = 5000): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) throw new InvalidArgumentError(`position must be an integer >= 0; got ${String(position)}.`);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw new InvalidArgumentError(`timeoutMs must be an integer >= 0; got ${String(timeoutMs)}.`);
    await this.call(() => this.rpc.waitForPosition({ position: BigInt(position), timeoutMs: Math.max(1, timeoutMs) }, { timeoutMs: timeoutMs + 10_000 }), true);
  }

  sublevel(name: string, options: { valueEncoding?: string } = {}): Sublevel {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new InvalidArgumentError(`A sublevel name is 1 to 64 letters, digits, '-' or '_'; got ${JSON.stringify(name)}.`);
    }
    return this.state.sublevel(name, { keyEncoding: 'utf8', valueEncoding: options.valueEncoding ?? 'json' }) as Sublevel;
  }

  /**
   * The server's schema registry (of this key's tenant), loaded: a `SchemaStore` like the embedded
   * `SchemaRegistry`, e.g. for `registerAggregate(await client.schemas(), Account)`. Registering
   * and binding need the `schemas` permission.
   */
  async schemas(): Promise<RemoteSchemaRegistry> {
    this.assertOpen();
    const registry = new RemoteSchemaRegistry(this.schemaRpc, (fn, retry) => this.call(fn, retry));
    await registry.refresh();
    return registry;
  }

  /** The projections the server hosts for this key's tenant: status, lag, parked streams, retry, skip, rebuild. */
  projections(): RemoteProjections {
    this.assertOpen();
    return new RemoteProjections(this.projectionRpc, (fn, retry) => this.call(fn, retry));
  }

  /** Who this key is: its tenant, principal and grants (a single log's key holds every permission on `>`). */
  async whoAmI(): Promise<{ tenant: string; principal: string; grants: Array<{ permission: string; pattern: string }> }> {
    const res = await this.call(() => this.infoRpc.whoAmI({}), true);
    return { tenant: res.tenant, principal: res.principal, grants: res.grants.map((g) => ({ permission: g.permission, pattern: g.pattern })) };
  }

  /**
   * The server's version, the log's head and the store's size when the server knows it: `disk`
   * bytes of a single log's directory, or a tenant's `logical` stored event bytes.
   */
  async storeInfo(): Promise<{ serverVersion: string; position: number; size?: { bytes: number; kind: string } }> {
    const res = await this.call(() => this.infoRpc.getStoreInfo({}), true);
    return { serverVersion: res.serverVersion, position: Number(res.position), ...(res.sizeBytes === undefined ? {} : { size: { bytes: Number(res.sizeBytes), kind: res.sizeKind } }) };
  }

  /** The aggregate snapshots stored beside this key's log: list them, read one's state. */
  snapshots(): RemoteSnapshots {
    this.assertOpen();
    return new RemoteSnapshots(this.snapshotRpc, (fn, retry) => this.call(fn, retry));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Joins a consumer group the server hosts (opened on first use with `pattern`): `handler` runs
   * on each leased delivery, in stream order; returning acks it (returning `{ appends }` commits
   * them with the ack, exactly once), throwing nacks it (retried with backoff, parked after the
   * group's attempts). Resolves once joined.
   *
   * @example
   * ```ts
   * const member = await client.joinGroup('billing', async (d) => bill(d.events), { pattern: 'orders/>' });
   * await member.leave();
   * ```
   */
  joinGroup(group: string, handler: RemoteGroupHandler, options: JoinGroupOptions): Promise<RemoteGroupMember> {
    this.assertOpen();
    return joinRemoteGroup({ rpc: this.groupRpc, backoff: (n) => this.backoff(n), isClosed: () => this.closed, aborts: this.aborts }, group, handler, options);
  }

  /** Parked streams of a group the server hosts. */
  async parkedStreams(group: string): Promise<Array<{ stream: string; version: number; position: number; error: string; attempts: number }>> {
    const res = await this.call(() => this.groupRpc.listParked({ group }), true);
    return res.streams.map((p) => ({ stream: p.stream, version: Number(p.version), position: Number(p.position), error: p.error, attempts: p.attempts }));
  }

  /** Delivers a parked stream of a hosted group again from its failed event; false if it was not parked. */
  async retryParked(group: string, stream: string): Promise<boolean> {
    return (await this.call(() => this.groupRpc.retryParked({ group, stream }), true)).wasParked;
  }

  /** Skips the failed event of a parked stream of a hosted group; false if it was not parked. */
  async skipParked(group: string, stream: string): Promise<boolean> {
    return (await this.call(() => this.groupRpc.skipParked({ group, stream }), false)).wasParked;
  }

  /** Ends subscriptions and closes the connection (and the default local state store). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.aborts) a.abort();
    this.sessions.abort();
    if (this.ownsState) await this.state.close();
  }
}

/** Options of {@link connectAdmin}. */
export interface AdminClientOptions {
  /** The server's URL. */
  url: string;
  /** The server's admin credential (not a tenant's key). */
  adminKey: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
}

/**
 * Connects to a server's tenant administration with its admin credential.
 *
 * @example
 * ```ts
 * const admin = connectAdmin({ url: 'http://127.0.0.1:7070', adminKey: process.env.STRAND_ADMIN_KEY! });
 * await admin.createTenant('acme', { quotas: { streams: 100_000 } });
 * const { apiKey } = await admin.createPrincipal('acme', [{ permission: 'append', pattern: 'orders/>' }]);
 * ```
 */
export function connectAdmin(options: AdminClientOptions): StrandAdmin {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('connectAdmin needs { url, adminKey }.');
  const { origin } = parseServerUrl(options.url);
  const key = options.adminKey;
  if (typeof key !== 'string' || key.length === 0 || !/^[\x21-\x7e]+$/.test(key)) throw new InvalidArgumentError('connectAdmin needs { adminKey }: the admin key strand serve printed or was given.');
  const sessions = new Http2SessionManager(origin, { pingIntervalMs: 10_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 }, options.ca === undefined ? {} : { ca: options.ca });
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: origin, httpVersion: '2', sessionManager: sessions, interceptors: [auth], useBinaryFormat: true, acceptCompression: [] });
  return new StrandAdmin(transport, () => sessions.abort());
}

/** A server URL, checked: `http:` or `https:`. */
function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`connect needs a server URL such as http://127.0.0.1:7070; got ${JSON.stringify(url)}.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`The server URL must be http: or https:; got ${parsed.protocol}.`);
  return parsed;
}

/**
 * Connects to a Strand server. The returned client is an `EventStore`: pass it wherever an
 * `EventLog` goes (aggregate repositories, projection runners).
 *
 * @example
 * ```ts
 * const store = connect({ url: 'http://127.0.0.1:7070', apiKey: process.env.STRAND_API_KEY! });
 * await store.append('orders/eu/order-42', [{ type: 'OrderPlaced', data: { total: 42 } }]);
 * ```
 */
export function connect(options: ClientOptions): StrandClient {
  return new StrandClient(options);
}
