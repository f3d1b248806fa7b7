
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { type Client, createClient, } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, type Http2SessionManager } from '@connectrpc/connect-node';
import {
  type AnyLevel,
  type AppendResult,
  assertStreamName,
  compilePattern,
  type EventInput,
  type EventStore,
  type ExpectedVersion,
  type HierarchyPage,
  InvalidArgumentError,
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
  fromWireAppendResult,
  fromWireEvent,
  fromWireInfo,
  toWireExpected,
  projectionWire,
  schemaWire,
  snapshotWire,
  groupsWire,
  infoWire,
  wire,
} from '@strand/protocol';
import { type JoinGroupOptions, joinRemoteGroup, type RemoteGroupHandler, type RemoteGroupMember } from './group.js';
import { MemoryLevel } from 'memory-level';
import type { Observable } from 'rxjs';
import { RemoteProjections } from './projections.js';
import { RemoteSchemaRegistry } from './schemas.js';
import { RemoteSnapshots } from './snapshots.js';
import { AppendBatcher, type RemoteAppendOptions, type Rpc, withIds } from './append-batch.js';
import { BatchedEvents, SharedEvents } from './batches.js';
import type { ClientOptions, ReconnectOptions } from './options.js';
import { leanTransport } from './unary-transport.js';
import { bearer, isHeaderSafeKey, parseServerUrl, SESSION_PINGS, STREAM_WINDOW, WideSessionManager } from './transport.js';

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

export type { AdminClientOptions } from './admin.js';
export { connectAdmin } from './admin.js';
export type { RemoteAppendOptions } from './append-batch.js';
export type { ClientOptions, ReconnectOptions } from './options.js';

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
  private readonly appends: AppendBatcher;
  private closed = false;

  /** @internal */
  constructor(options: ClientOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('connect needs { url, apiKey }.');
    const { url, apiKey } = options;
    const parsed = parseServerUrl(url);
    if (!isHeaderSafeKey(apiKey)) throw new InvalidArgumentError('connect needs { apiKey }: the key the server printed or the one your tenant admin gave you.');
    const r = options.reconnect ?? {};
    this.options = {
      subscriptionWindow: options.subscriptionWindow ?? 1024,
      heartbeatMs: options.heartbeatMs ?? 5000,
      callRetries: options.callRetries ?? 3,
      reconnect: { initialDelayMs: r.initialDelayMs ?? 50, maxDelayMs: r.maxDelayMs ?? 5000, maxAttempts: r.maxAttempts ?? Number.POSITIVE_INFINITY },
    };
    const baseUrl = parsed.origin;
    const nodeOptions = { settings: { initialWindowSize: STREAM_WINDOW }, ...(options.ca === undefined ? {} : { ca: options.ca }) };
    this.sessions = new WideSessionManager(baseUrl, SESSION_PINGS, nodeOptions);
    const transportOptions = { baseUrl, httpVersion: '2' as const, sessionManager: this.sessions, interceptors: [bearer(apiKey)], readMaxBytes: 64 * 1024 * 1024,
      ...(options.compression === true ? {} : { acceptCompression: [] }),
    };
    const connectEs = options.protocol === 'grpc' ? createGrpcTransport(transportOptions) : createConnectTransport({ ...transportOptions, useBinaryFormat: true });
    // Connect binary unary calls without compression skip connect-es's per-call machinery (unary-transport.ts).
    const transport =
      options.protocol === 'grpc' || options.compression === true
        ? connectEs
        : leanTransport({ baseUrl, sessions: this.sessions, apiKey, readMaxBytes: transportOptions.readMaxBytes, fallback: connectEs });
    this.rpc = createClient(wire.EventStoreService, transport);
    this.appends = new AppendBatcher(this.rpc, (fn, retry) => this.call(fn, retry));
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

  /**
   * Appends events to a stream on the server. Appends issued in the same turn of the event loop
   * travel in one request (see `append-batch.ts`); each keeps its own result and error.
   */
  append(stream: string, events: readonly EventInput[], options: RemoteAppendOptions = {}): Promise<AppendResult> {
    try {
      this.assertOpen();
      return this.appends.enqueue(stream, events, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async appendMulti(parts: readonly StreamAppend[]): Promise<MultiAppendResult> {
    this.assertOpen();
    if (!Array.isArray(parts)) throw new InvalidArgumentError('appendMulti needs an array of { stream, events, expectedVersion }.');
    const req = {
      parts: parts.map((p) => ({ stream: p?.stream, events: withIds(p?.events), expectedVersion: toWireExpected(p?.expectedVersion), recreate: p?.recreate === true })),
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
