/**
 * One generation of an asynchronous projection: follows the log, runs handlers with strict order
 * per stream and concurrency across streams, retries and parks failing streams, and commits
 * read-model writes together with its checkpoint. Design: docs/design/0007-projections.md.
 *
 * @module
 */
import type { EventStore, Logger, RecordedEvent, Sublevel } from '@strand/core';
import { Subject } from 'rxjs';
import { generationMeta, parkedKey, readCheckpoint, readParked } from './catalog.js';
import type { CompiledProjection } from './projection.js';
import { Collections, WriteBuffer } from './read-model.js';

/** A stream whose handler kept failing: it is skipped until retried or skipped on request. */
export interface ParkedStream {
  /** The stream. */
  readonly stream: string;
  /** Version of the first event not applied. */
  readonly version: number;
  /** Its global position. */
  readonly position: number;
  /** The handler's last error message. */
  readonly error: string;
  /** Attempts made. */
  readonly attempts: number;
  /** When it was parked (ms since epoch). */
  readonly parkedAt: number;
}

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
}

interface State {
  /** Every event at or below this position is applied (or skipped/parked) and committed. */
  checkpoint: number;
  /** The highest position ever committed; between checkpoint and here, check per-stream versions. */
  highWater: number;
}

interface Slot {
  position: number;
  done: boolean;
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
  private readonly versions = new Map<string, number>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly inflight: Slot[] = [];
  private inflightHead = 0;
  private dispatched = 0;
  private completedSinceCommit = 0;
  private highestDone = 0;
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
    this.collections = new Collections(log, projection.name, generation);
    this.meta = generationMeta(log, projection.name, generation);
    this.buffer = new WriteBuffer(this.collections);
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
    this.dispatched = this.state.checkpoint;
    this.highestDone = this.state.checkpoint;
    this.stopped = false;
    this.abort = new AbortController();
    this.loop = this.follow().catch((error: unknown) => this.fail(error));
  }

  /** Stops following; waits for handlers in flight and commits what they did. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    await Promise.all([...this.chains.values()]);
    await this.commit();
    await this.committing;
  }

  private async follow(): Promise<void> {
    const { state, projection } = this;
    for await (const event of this.log.follow('>', { from: state.checkpoint + 1, signal: this.abort.signal })) {
      if (this.inflight.length - this.inflightHead >= this.options.maxInFlight) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      }
      this.dispatched = event.position;
      const handler = projection.matches(event.stream) ? projection.handlerFor(event.type) : undefined;
      if (handler === undefined || this.parked.has(event.stream)) {
        this.skip(event.position);
        continue;
      }
      if (event.position <= state.highWater) {
        // Possibly applied before a crash: the per-stream version committed with it says.
        const applied = (await this.meta.get(`v:${event.stream}`)) as number | undefined;
        if (applied !== undefined && applied >= event.version) {
          this.skip(event.position);
          continue;
        }
      }
      const slot: Slot = { position: event.position, done: false };
      this.inflight.push(slot);
      const prev = this.chains.get(event.stream);
      const run: Promise<void> = prev === undefined ? this.apply(event, slot) : prev.then(() => this.apply(event, slot));
      this.chains.set(event.stream, run);
      // The chain entry goes when its last event is done (apply clears it), keeping the map small.
      this.tails.set(event.stream, run);
    }
  }

  /** A position that needs no handler still moves the checkpoint. */
  private skip(position: number): void {
    if (this.inflight.length === this.inflightHead) {
      this.highestDone = Math.max(this.highestDone, position);
      this.scheduleCommit(false);
    } else {
      this.inflight.push({ position, done: true });
    }
  }

  private acquire(): Promise<void> {
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.running--;
  }

  private async apply(event: RecordedEvent, slot: Slot): Promise<void> {
    try {
      await this.applyOnce(event, slot);
    } finally {
      // Last event of this stream's chain: drop the entry (a later event starts a new chain).
      if (this.tails.get(event.stream) === this.chains.get(event.stream) && slot.done) {
        const tail = this.tails.get(event.stream);
        queueMicrotask(() => {
          if (this.chains.get(event.stream) === tail) {
            this.chains.delete(event.stream);
            this.tails.delete(event.stream);
          }
        });
      }
    }
  }

  private async applyOnce(event: RecordedEvent, slot: Slot): Promise<void> {
    if (this.parked.has(event.stream)) return this.finish(slot, undefined);
    const handler = this.projection.handlerFor(event.type)!;
    if (this.running < this.options.concurrency) this.running++;
    else await this.acquire();
    try {
      for (let attempt = 1; ; attempt++) {
        const tx = this.buffer.tx();
        try {
          await handler(event, tx);
          tx.commit();
          this.versions.set(event.stream, event.version);
          return this.finish(slot, event);
        } catch (error) {
          tx.abort();
          if (attempt >= this.options.attempts || this.stopped) {
            const p: ParkedStream = { stream: event.stream, version: event.version, position: event.position, error: String((error as Error)?.message ?? error), attempts: attempt, parkedAt: this.options.clock() };
            this.parked.set(event.stream, p);
            this.parkedDirty.set(event.stream, p);
            this.options.logger.warn({ projection: this.projection.name, stream: event.stream, version: event.version, err: error }, 'stream parked');
            return this.finish(slot, undefined);
          }
          await sleep(this.options.backoffMs * 2 ** (attempt - 1));
        }
      }
    } finally {
      this.release();
    }
  }

  private finish(slot: Slot, event: RecordedEvent | undefined): void {
    slot.done = true;
    if (event) this.processedPending.push(event);
    this.completedSinceCommit++;
    this.scheduleCommit(this.completedSinceCommit >= this.options.batchSize);
  }

  private advance(): void {
    while (this.inflightHead < this.inflight.length && this.inflight[this.inflightHead]!.done) {
      this.highestDone = Math.max(this.highestDone, this.inflight[this.inflightHead]!.position);
      this.inflightHead++;
    }
    if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflight.length) {
      this.inflight.splice(0, this.inflightHead);
      this.inflightHead = 0;
    }
    if (this.inflightHead === this.inflight.length) this.highestDone = Math.max(this.highestDone, this.dispatched);
    const room = this.roomWaiters.splice(0);
    for (const r of room) r();
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
    this.advance();
    const checkpoint = this.highestDone;
    if (checkpoint === this.state.checkpoint && this.buffer.empty && this.parkedDirty.size === 0 && this.versions.size === 0 && this.processedPending.length === 0) return;
    this.completedSinceCommit = 0;
    const ops: Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel?: Sublevel }> = this.buffer.drain();
    for (const [stream, version] of this.versions) ops.push({ type: 'put', key: `v:${stream}`, value: version, sublevel: this.meta });
    this.versions.clear();
    for (const [stream, p] of this.parkedDirty) ops.push(p === null ? { type: 'del', key: parkedKey(stream), sublevel: this.meta } : { type: 'put', key: parkedKey(stream), value: p, sublevel: this.meta });
    this.parkedDirty.clear();
    // highWater covers events applied beyond the checkpoint (out of order across streams).
    const highWater = Math.max(this.state.highWater, checkpoint, this.dispatched);
    const next: State = { checkpoint, highWater };
    ops.push({ type: 'put', key: 'state', value: next, sublevel: this.meta });
    ops.push({ type: 'put', key: 'collections', value: this.collections.names(), sublevel: this.meta });
    await this.meta.batch(ops as never);
    this.buffer.landed();
    this.state = next;
    const done = this.processedPending;
    this.processedPending = [];
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
    const cutoff = this.dispatched;
    const from = mode === 'skip' ? p.version + 1 : p.version;
    this.parked.delete(stream);
    this.parkedDirty.set(stream, null);
    const replay = async () => {
      for await (const e of this.log.readStream(stream, { from, ifTruncated: 'skip' })) {
        if (e.position > cutoff) break;
        if (this.parked.has(stream)) break;
        if (!this.projection.handlerFor(e.type)) continue;
        const slot: Slot = { position: e.position, done: false };
        await this.apply(e, slot);
      }
    };
    const prev = this.chains.get(stream) ?? Promise.resolve();
    const run = prev.then(replay);
    this.chains.set(stream, run);
    await run;
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
