/**
 * One generation of an asynchronous projection: follows the log, runs handlers with strict order
 * per stream and concurrency across streams, retries and parks failing streams, and commits
 * read-model writes together with its checkpoint. Design: docs/design/0007-projections.md.
 *
 * Over ~500 lines on purpose: the follow loop, the per-stream workers and the commit share one set
 * of in-flight counters (dispatched, completed since the commit, the slots, `processed$`'s pending
 * events), and a commit must take all of them synchronously before its first await, or
 * `processed$` runs ahead of committed writes (the race fixed in `16999fe`). Per-stream order,
 * retry and parking already live in `lanes.ts`, truncation in `truncated.ts`.
 *
 * @module
 */
import type { EventStore, Logger, RecordedEvent, Sublevel } from '@strand/core';
import { Subject } from 'rxjs';
import { generationMeta, parkedKey, readCheckpoint, readParked } from './catalog.js';
import { Lane, type ParkedStream, parkRecord, type RetryPolicy } from './lanes.js';
import type { CompiledProjection } from './projection.js';
import { Collections, WriteBuffer } from './read-model.js';
import { type ArchiveReader, TruncationGuard } from './truncated.js';

export type { ParkedStream } from './lanes.js';

/** Tuning of a runner. */
export interface EngineOptions {
  /** Streams processed at once (default 16). */
  concurrency: number;
  /** Events per checkpoint commit at most (default 1,000). */
  batchSize: number;
  /** Handler attempts before a stream is parked (default 3). */
  attempts: number;
  /** First retry delay in ms, doubling per attempt (default 20). */
  backoffMs: number;
  /** Most events dispatched but not yet committed (default 10,000): bounds memory. */
  maxInFlight: number;
  /** Logger. */
  logger: Logger;
  /** Clock. */
  clock: () => number;
  /** Where truncated history can be read back (the archive the retention policy wrote to). */
  archive?: ArchiveReader | undefined;
}

interface State {
  /** Every event at or below this position is applied (or skipped/parked) and committed. */
  checkpoint: number;
  /** The highest position ever committed; between checkpoint and here, check per-stream versions. */
  highWater: number;
}

/**
 * One stream's pending work (docs/design/0007, "Dispatch"): a {@link Lane} (shared with consumer
 * groups) of at most `cap` buffered events; past that the stream *overflows*: the follower leaves
 * its later events in the log and the stream's worker reads them back from the store itself, so a
 * hot stream never holds up the follower (and with it every other stream).
 */
class StreamWork extends Lane<RecordedEvent> {
  /** Resolved once the worker has nothing left (resume waits for its replay). */
  readonly idle: Array<() => void> = [];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Processes one generation of a projection. */
export class Engine {
  readonly collections: Collections;
  private readonly meta: Sublevel;
  private readonly buffer: WriteBuffer;
  private state: State = { checkpoint: 0, highWater: 0 };
  private readonly parked = new Map<string, ParkedStream>();
  private readonly parkedDirty = new Map<string, ParkedStream | null>();
  /** Last applied event per stream since the last commit (its version key is written with the checkpoint). */
  private readonly versions = new Map<string, { version: number; position: number }>();
  /** Version keys written above the checkpoint: deleted once the checkpoint passes them (bounded store). */
  private readonly lingering = new Map<string, number>();
  /** Archived events queued before the event they precede: they hold that event's position. */
  private readonly slots = new WeakMap<RecordedEvent, number>();
  private readonly guard: TruncationGuard;
  /** Streams with pending work, each drained by one worker at a time (strict order per stream). */
  private readonly work = new Map<string, StreamWork>();
  private readonly workers = new Set<Promise<void>>();
  /** Events buffered across all streams (bounded by `maxInFlight`). */
  private buffered = 0;
  /** Events buffered per stream before it overflows to reading the store. */
  private readonly streamCap: number;
  /** Handler attempts and backoff (no upper bound on the delay). */
  private readonly retry: RetryPolicy;
  private dispatched = 0;
  private completedSinceCommit = 0;
  private running = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly roomWaiters: Array<() => void> = [];
  private commitScheduled = false;
  private committing: Promise<void> = Promise.resolve();
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopped = true;
  private failure: unknown;
  /** Committed checkpoints. */
  readonly checkpoint$ = new Subject<number>();
  /** Events applied, emitted after their commit. */
  readonly processed$ = new Subject<RecordedEvent>();
  private processedPending: RecordedEvent[] = [];

  constructor(
    private readonly log: EventStore,
    readonly projection: CompiledProjection,
    readonly generation: number,
    private readonly options: EngineOptions,
  ) {
    this.collections = new Collections(log, projection.name, generation, projection.indexes);
    this.meta = generationMeta(log, projection.name, generation);
    this.buffer = new WriteBuffer(this.collections);
    this.streamCap = Math.max(1, Math.min(1024, Math.floor(options.maxInFlight / 16)));
    this.retry = { maxAttempts: options.attempts, backoffMs: options.backoffMs, maxBackoffMs: Number.POSITIVE_INFINITY };
    this.guard = new TruncationGuard(log, this.meta, projection.name, options.archive, projection.truncated ?? 'park');
  }

  /** Committed checkpoint. */
  get position(): number {
    return this.state.checkpoint;
  }

  /** Parked streams. */
  get parkedStreams(): ParkedStream[] {
    return [...this.parked.values()];
  }

  /** The error that stopped the engine, if any (storage failure). */
  get error(): unknown {
    return this.failure;
  }

  /** Loads the checkpoint and parked streams, then follows the log. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    const saved = await readCheckpoint<State>(this.meta);
    if (saved) this.state = { ...saved };
    for await (const p of readParked(this.meta)) this.parked.set(p.stream, p);
    await this.guard.load();
    if (this.state.highWater <= this.state.checkpoint) await this.dropVersionKeys();
    this.dispatched = this.state.checkpoint;
    this.stopped = false;
    this.abort = new AbortController();
    this.loop = this.follow().catch((error: unknown) => this.fail(error));
  }

  /** Stops following; waits for the handlers running now and commits what they did. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    for (const r of this.roomWaiters.splice(0)) r();
    await Promise.all([...this.workers]);
    await this.commit();
    await this.committing;
  }

  /** Version keys left by a run whose checkpoint has since passed every applied event: none is needed. */
  private async dropVersionKeys(): Promise<void> {
    for (;;) {
      const keys = (await this.meta.keys({ gte: 'v:', lt: 'v;', limit: 1000 }).all()) as string[];
      if (keys.length === 0) return;
      await this.meta.batch(keys.map((key) => ({ type: 'del' as const, key })) as never);
    }
  }

  /** The version a stream's version key holds (applied above the checkpoint before a crash), else 0. */
  private readonly appliedVersion = async (stream: string): Promise<number> => ((await this.meta.get(`v:${stream}`)) as number | undefined) ?? 0;

  private async follow(): Promise<void> {
    const { state, projection } = this;
    for await (const event of this.log.follow('>', { from: state.checkpoint + 1, signal: this.abort.signal })) {
      // Global order is gapless (0002): positions missing here were truncated before this
      // generation reached them. Recorded with the checkpoint (truncated.ts).
      if (event.position > this.dispatched + 1) this.guard.gap(this.dispatched + 1, event.position - 1);
      // Only buffered events count: a stream past its cap overflows instead of filling the window.
      if (this.buffered >= this.options.maxInFlight) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
        if (this.stopped) return;
      }
      // `dispatched` moves only once the event is handed over: while the check below awaits the
      // store, the checkpoint must not pass it.
      const matched = projection.matches(event.stream);
      if (matched && !this.parked.has(event.stream)) {
        // Truncated history this generation never saw: replay it from the archive, or park.
        const judged = this.guard.check(event, this.appliedVersion);
        const verdict = judged instanceof Promise ? await judged : judged;
        if (verdict.kind === 'park') {
          this.park(event, verdict.error, 1);
          this.dispatched = event.position;
          this.skip();
          continue;
        }
        if (verdict.kind === 'replay') {
          const missed = verdict.missed.filter((m) => projection.handlerFor(m.type) !== undefined);
          if (missed.length > 0 && !this.enqueueArchived(event, missed)) {
            this.park(event, new Error('archived history arrived while the stream had a backlog in the log; retry the stream'), 1);
            this.dispatched = event.position;
            this.skip();
            continue;
          }
        }
      }
      const handler = matched ? projection.handlerFor(event.type) : undefined;
      if (handler === undefined || this.parked.has(event.stream)) {
        this.dispatched = event.position;
        this.skip();
        continue;
      }
      const w = this.work.get(event.stream);
      if (w?.overflow !== undefined) {
        // Left in the log: the stream's worker reads it back in order.
        w.spill(event);
        this.dispatched = event.position;
        continue;
      }
      if (event.position <= state.highWater) {
        // Possibly applied before a crash: the per-stream version committed with it says.
        const applied = (await this.meta.get(`v:${event.stream}`)) as number | undefined;
        if (applied !== undefined && applied >= event.version) {
          this.dispatched = event.position;
          this.skip();
          continue;
        }
      }
      this.enqueue(event);
      this.dispatched = event.position;
    }
  }

  /** A position that needs no handler still moves the checkpoint. */
  private skip(): void {
    if (this.work.size === 0) this.scheduleCommit(false);
  }

  /**
   * Queues archived events of a stream ahead of `before` (its next event). They hold `before`'s
   * position, so the checkpoint stays below it until they are applied. False if the stream's
   * backlog is in the log (overflow), where they cannot be put in front.
   */
  private enqueueArchived(before: RecordedEvent, missed: readonly RecordedEvent[]): boolean {
    const w = this.work.get(before.stream);
    if (w?.overflow !== undefined) return false;
    for (const m of missed) this.slots.set(m, before.position);
    const lane = w ?? new StreamWork(before.stream);
    for (const m of missed) lane.push(m);
    this.buffered += missed.length;
    if (w === undefined) {
      this.work.set(before.stream, lane);
      this.startWorker(lane);
    }
    return true;
  }

  /** Where an event holds the checkpoint: its position, or for an archived one, the next event's. */
  private slotOf(e: RecordedEvent): number {
    return this.slots.get(e) ?? e.position;
  }

  /** Parks a stream at an event (committed with the next batch). */
  private park(event: RecordedEvent, error: unknown, attempts: number): void {
    const p = parkRecord(event.stream, event, error, attempts, this.options.clock());
    this.parked.set(event.stream, p);
    this.parkedDirty.set(event.stream, p);
    this.options.logger.warn({ projection: this.projection.name, stream: event.stream, version: event.version, err: error }, 'stream parked');
  }

  private enqueue(event: RecordedEvent): void {
    const w = this.work.get(event.stream);
    if (w === undefined) {
      const fresh = new StreamWork(event.stream);
      fresh.push(event);
      this.buffered++;
      this.work.set(event.stream, fresh);
      this.startWorker(fresh);
    } else if (w.offer(event, this.streamCap)) {
      this.buffered++;
    }
  }

  private startWorker(w: StreamWork): void {
    const run: Promise<void> = this.drain(w)
      .catch((error: unknown) => this.fail(error))
      .finally(() => this.workers.delete(run));
    this.workers.add(run);
  }

  /** The stream's worker: applies its events one at a time, in order, refilling from the store. */
  private async drain(w: StreamWork): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      if (w.size === 0 && w.overflow !== undefined) await this.refill(w);
      if (w.size === 0) {
        if (w.overflow !== undefined) continue;
        this.work.delete(w.stream);
        for (const r of w.idle.splice(0)) r();
        this.scheduleCommit(false);
        return;
      }
      const event = w.first()!;
      if (this.parked.has(w.stream)) {
        // Everything after a parked event waits in the log for retry/skip.
        this.buffered -= w.clear();
        this.wakeFollower();
        continue;
      }
      await this.applyOnce(w, event);
      w.drop(1);
      this.buffered--;
      this.wakeFollower();
    }
  }

  /** Reads the next page of an overflowed stream from the store. */
  private async refill(w: StreamWork): Promise<void> {
    const applied = w.overflow!.nextPosition <= this.state.highWater ? ((await this.meta.get(`v:${w.stream}`)) as number | undefined) : undefined;
    // Every event of the stream at or below the request's `to` was committed before this read started.
    const req = w.readRequest(this.streamCap)!;
    const events: RecordedEvent[] = [];
    try {
      for await (const e of this.log.readStream(w.stream, { from: req.from, limit: req.limit, ifTruncated: 'skip' })) {
        events.push(e);
        if (e.position > w.overflow!.lastSeen) break;
      }
    } catch (error) {
      w.readFailed();
      throw error;
    }
    this.buffered += w.absorb(events, (e) => this.projection.handlerFor(e.type) !== undefined && !(applied !== undefined && e.version <= applied));
  }

  private wakeFollower(): void {
    if (this.roomWaiters.length === 0 || this.buffered >= this.options.maxInFlight) return;
    for (const r of this.roomWaiters.splice(0)) r();
  }

  private acquire(): Promise<void> {
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.running--;
  }

  private async applyOnce(w: StreamWork, event: RecordedEvent): Promise<void> {
    if (this.parked.has(event.stream)) return this.finish(undefined);
    const handler = this.projection.handlerFor(event.type)!;
    if (this.running < this.options.concurrency) this.running++;
    else await this.acquire();
    try {
      for (;;) {
        const tx = this.buffer.tx();
        try {
          await handler(event, tx);
          tx.commit();
          w.succeeded();
          this.versions.set(event.stream, { version: event.version, position: this.slotOf(event) });
          return this.finish(event);
        } catch (error) {
          tx.abort();
          const delay = w.failed(String((error as Error)?.message ?? error), this.options.clock(), this.retry);
          if (delay === 'park' || this.stopped) {
            this.park(event, error, w.attempts);
            w.succeeded();
            return this.finish(undefined);
          }
          await sleep(delay);
        }
      }
    } finally {
      this.release();
    }
  }

  private finish(event: RecordedEvent | undefined): void {
    if (event) this.processedPending.push(event);
    this.completedSinceCommit++;
    this.scheduleCommit(this.completedSinceCommit >= this.options.batchSize);
  }

  /**
   * The checkpoint: every selected event at or below it is applied or parked. Each stream
   * completes in order, so its first pending event is the head of its queue (or of its overflow);
   * the checkpoint stops just below the oldest of those.
   */
  private lowWatermark(): number {
    let low = this.dispatched;
    for (const w of this.work.values()) {
      if (this.parked.has(w.stream)) continue;
      const head = w.first();
      const first = head !== undefined ? this.slotOf(head) : w.overflow?.nextPosition;
      if (first !== undefined && first - 1 < low) low = first - 1;
    }
    return Math.max(low, this.state.checkpoint);
  }

  private scheduleCommit(now: boolean): void {
    if (now) {
      void this.commit();
      return;
    }
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      void this.commit();
    });
  }

  /** Commits buffered writes, per-stream versions, parked changes and the checkpoint atomically. */
  private commit(): Promise<void> {
    this.committing = this.committing.then(() => this.commitNow()).catch((error: unknown) => this.fail(error));
    return this.committing;
  }

  /** A storage failure stops the engine; waiters see the error, nothing is half-committed. */
  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.options.logger.error({ projection: this.projection.name, err: error }, 'projection stopped: commit failed');
    this.abort.abort();
    this.checkpoint$.error(error);
  }

  private async commitNow(): Promise<void> {
    const checkpoint = this.lowWatermark();
    if (checkpoint === this.state.checkpoint && this.buffer.empty && this.parkedDirty.size === 0 && this.versions.size === 0 && this.processedPending.length === 0) return;
    this.completedSinceCommit = 0;
    // Everything this commit covers is taken synchronously, before the first await: an event that
    // completes while the batch is being written belongs to the next commit, or its version key
    // and its processed$ notice would land without its writes.
    const drained = this.buffer.drain();
    const done = this.processedPending;
    this.processedPending = [];
    const ops: Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel?: Sublevel }> = [...drained];
    // A stream's version key is needed only while its last applied event is above the checkpoint.
    for (const [stream, v] of this.versions) {
      if (v.position <= checkpoint) {
        ops.push({ type: 'del', key: `v:${stream}`, sublevel: this.meta });
        this.lingering.delete(stream);
      } else {
        ops.push({ type: 'put', key: `v:${stream}`, value: v.version, sublevel: this.meta });
        this.lingering.set(stream, v.position);
      }
    }
    this.versions.clear();
    for (const [stream, position] of this.lingering) {
      if (position > checkpoint) continue;
      ops.push({ type: 'del', key: `v:${stream}`, sublevel: this.meta });
      this.lingering.delete(stream);
    }
    for (const op of this.guard.drainOps()) ops.push(op);
    for (const [stream, p] of this.parkedDirty) ops.push(p === null ? { type: 'del', key: parkedKey(stream), sublevel: this.meta } : { type: 'put', key: parkedKey(stream), value: p, sublevel: this.meta });
    this.parkedDirty.clear();
    // highWater covers events applied beyond the checkpoint (out of order across streams).
    const highWater = Math.max(this.state.highWater, checkpoint, this.dispatched);
    const next: State = { checkpoint, highWater };
    ops.push({ type: 'put', key: 'state', value: next, sublevel: this.meta });
    ops.push({ type: 'put', key: 'collections', value: this.collections.names(), sublevel: this.meta });
    for (const op of await this.collections.indexOps(drained)) ops.push(op);
    await this.meta.batch(ops as never);
    this.buffer.landed();
    this.state = next;
    this.guard.prune(checkpoint);
    if (done.length > 0) this.log.recordWork?.('projectionEvents', done.length);
    for (const e of done) this.processed$.next(e);
    this.checkpoint$.next(checkpoint);
  }

  /**
   * Re-applies a parked stream from its parked version (or the one after, when skipping) up to
   * what has been dispatched, then lets its new events flow again.
   */
  async resume(stream: string, mode: 'retry' | 'skip'): Promise<boolean> {
    const p = this.parked.get(stream);
    if (p === undefined) return false;
    const draining = this.work.get(stream);
    if (draining !== undefined) await new Promise<void>((resolve) => draining.idle.push(resolve));
    if (this.parked.get(stream) !== p) return !this.parked.has(stream);
    // Parked for missing history: the parked event itself did not fail. `retry` applies the
    // archive's missed events first (if it holds them now), `skip` goes on without them.
    const truncated = p.code === 'STRAND_STREAM_TRUNCATED';
    const from = mode === 'skip' && !truncated ? p.version + 1 : p.version;
    let archived: readonly RecordedEvent[] = [];
    if (truncated && mode === 'retry') {
      let at: RecordedEvent | undefined;
      for await (const e of this.log.readStream(stream, { from: p.version, limit: 1, ifTruncated: 'skip' })) at = e;
      if (at !== undefined) {
        // Judged again: still missing (no archive holds it, nothing declared) keeps it parked.
        const verdict = await this.guard.check(at, this.appliedVersion);
        if (verdict.kind === 'park') return false;
        if (verdict.kind === 'replay') archived = verdict.missed;
      }
    }
    for (const a of archived) this.slots.set(a, p.position);
    // The stream's events from `from` up to what the follower has passed are read back from the
    // store by its worker; the follower's later events of the stream queue behind them.
    const w = new StreamWork(stream);
    for (const a of archived) if (this.projection.handlerFor(a.type) !== undefined) w.push(a);
    w.overflow = { nextVersion: from, nextPosition: p.position, lastSeen: this.dispatched };
    this.buffered += w.size;
    this.parked.delete(stream);
    this.parkedDirty.set(stream, null);
    this.work.set(stream, w);
    const idle = new Promise<void>((resolve) => w.idle.push(resolve));
    this.startWorker(w);
    await idle;
    await this.commit();
    return !this.parked.has(stream);
  }

  /** Deletes this generation's read model and checkpoint (after a rebuild replaced it). */
  async destroy(): Promise<void> {
    const names = ((await this.meta.get('collections')) as string[] | undefined) ?? this.collections.names();
    for (const name of names) await this.collections.db(name).clear();
    await this.meta.clear();
  }
}
