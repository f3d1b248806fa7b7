/**
 * The WAL writer: group commit into WAL objects, up to `walPutsInFlight` PUTs in flight, each to
 * its own create-only slot, acknowledged strictly in slot order (docs/design/0005-s3-engine.md,
 * "Commit path" and "Several WAL PUTs in flight").
 *
 * @module
 */
import { equalBytes } from '../bytes.js';
import type { Clock } from '../clock.js';
import { CommitUnknownError } from '@strand/core';
import { FencedError, S3UnavailableError } from '../errors.js';
import type { Memtable } from '../memtable.js';
import type { ObjectStore } from '../object-store/types.js';
import { ObjectStoreError, PreconditionFailedError } from '../object-store/types.js';
import type { WalBatch } from './format.js';
import { batchBytes, encodeWal, walKey } from './format.js';
import type { WalReader } from './replay.js';
import { SEGMENT_MAX_OBJECTS, encodeSegment, segmentKey } from './segment.js';

/** A segment is stored early once its WAL objects hold this many bytes. */
const SEGMENT_MAX_BYTES = 8 * 1024 * 1024;

/** Longest wait for more writers before an eager WAL PUT (flush interval 0), ms. */
const GATHER_MS = 1;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One WAL PUT under way. Flights are acknowledged strictly in slot order. */
interface Flight {
  slot: number;
  waiters: Waiter[];
  /** The memtable frozen at this WAL boundary, if any: durable once this flight is. */
  frozen: Memtable | undefined;
  state: 'pending' | 'stored' | 'failed';
  error?: unknown;
  /** Its WAL object (kept for the next segment once stored). */
  body: Buffer;
  /** Settles (never rejects) when the PUT does. */
  done: Promise<void>;
}

/** What the WAL writer needs from the engine. */
export interface WalWriterOptions {
  store: ObjectStore;
  reader: WalReader;
  prefix: string;
  epoch: number;
  /** The first slot this writer fills (after its fence object's resume slot). */
  firstSlot: number;
  flushIntervalMs: number;
  walFlushBytes: number;
  walPutsInFlight: number;
  /** WAL objects per segment (0: no segments). */
  walSegmentObjects: number;
  clock: Clock;
  /**
   * At each WAL cut, before the slot is assigned: the memtable frozen at this boundary, if any
   * (it holds exactly the WAL slots up to this one; flushable once this slot is acknowledged).
   */
  cut: () => Memtable | undefined;
  /** After flights were acknowledged (frozen memtables' `lastWalId` set). */
  acknowledged: () => void;
  /** The writer stopped (fenced or failed); `error` says why. */
  stopped: () => void;
  /** A segment could not be written (harmless: replay reads the WAL objects themselves). */
  segmentFailed: (err: unknown) => void;
}

/** The WAL writer of one writer epoch. */
export class WalWriter {
  /** WAL objects acknowledged. */
  objects = 0;
  /** Bytes of the WAL objects acknowledged. */
  bytes = 0;
  /** Most WAL PUTs that were unacknowledged at once. */
  putsInFlightMax = 0;
  private nextSlot: number;
  private buf: WalBatch[] = [];
  private bufBytes = 0;
  private bufWaiters: Waiter[] = [];
  /** WAL PUTs under way, in slot order (at most `walPutsInFlight`). */
  private flights: Flight[] = [];
  /** An eager flush waiting a turn or two for more writers (flush interval 0). */
  private gathering: Promise<void> | undefined;
  private timerArmed = false;
  private timerGen = 0;
  private flushDue = false;
  private fenced: FencedError | undefined;
  private failed: S3UnavailableError | undefined;
  /** Acknowledged WAL objects of consecutive slots from `segmentFirst`, not in a segment yet. */
  private segmentObjects: Buffer[] = [];
  private segmentBytes = 0;
  private segmentFirst = 0;
  /** The segment PUT under way: one at a time. */
  private segmentPut: Promise<void> = Promise.resolve();
  /** Segments stored. */
  segments = 0;

  constructor(private readonly o: WalWriterOptions) {
    this.nextSlot = o.firstSlot;
  }

  /** Why this writer stopped writing, if it did (fencing wins over other failures). */
  get error(): FencedError | S3UnavailableError | undefined {
    return this.fenced ?? this.failed;
  }

  /**
   * Queues an atomic batch (already applied to the memtable) for the next WAL object. With
   * `durable`, the promise resolves once that object and every one before it are stored.
   */
  append(batch: WalBatch, durable: boolean): Promise<void> | undefined {
    this.buf.push(batch);
    this.bufBytes += batchBytes(batch);
    let p: Promise<void> | undefined;
    if (durable) p = new Promise<void>((resolve, reject) => this.bufWaiters.push({ resolve, reject }));
    this.schedule();
    return p;
  }

  /**
   * Adds an acknowledged WAL object to the next segment, and stores the segment once it holds
   * `walSegmentObjects` objects or `SEGMENT_MAX_BYTES` (docs/design/0005, "Bounded replay").
   */
  private segmentAdd(slot: number, body: Buffer): void {
    if (this.o.walSegmentObjects <= 0) return;
    if (this.segmentObjects.length === 0) this.segmentFirst = slot;
    else if (slot !== this.segmentFirst + this.segmentObjects.length) {
      // Not the next slot (cannot happen within one writer): start over from this one.
      this.segmentObjects = [];
      this.segmentBytes = 0;
      this.segmentFirst = slot;
    }
    this.segmentObjects.push(body);
    this.segmentBytes += body.length;
    if (this.segmentObjects.length < Math.min(this.o.walSegmentObjects, SEGMENT_MAX_OBJECTS) && this.segmentBytes < SEGMENT_MAX_BYTES) return;
    const first = this.segmentFirst;
    const objects = this.segmentObjects;
    this.segmentObjects = [];
    this.segmentBytes = 0;
    const key = segmentKey(this.o.prefix, first, first + objects.length - 1);
    this.segmentPut = this.segmentPut.then(async () => {
      if (this.error) return; // stopped: nothing more is sent
      try {
        await this.o.store.put(key, encodeSegment(first, objects), { ifNoneMatch: '*' });
        this.segments++;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) this.o.segmentFailed(err); // 412: a retry of ours landed
      }
    });
  }

  /** Waits for the segment PUT under way (closing). */
  async segmentsIdle(): Promise<void> {
    await this.segmentPut;
  }

  /** Resolves once every buffered write was sent and every WAL PUT settled. */
  async drain(): Promise<void> {
    for (;;) {
      // Stored flights wait for the pending ones before them: await those (awaiting a stored
      // flight again and again would spin on microtasks and starve the PUTs it waits for).
      const pending = this.flights.find((f) => f.state === 'pending');
      if (pending) await pending.done;
      else if (this.gathering) await this.gathering;
      else if (this.buf.length > 0 && !this.error) this.startFlush();
      else return;
    }
  }

  /** Cancels the flush timer (closing). */
  cancelTimer(): void {
    this.timerGen++;
  }

  /**
   * Stops this writer: buffered writes are rejected and nothing more is sent. (WAL PUTs already
   * in flight settle on their own, in order: one that lands with all before it is replayed by
   * the next writer, so acknowledging it is right.)
   */
  stop(err: unknown): void {
    if (err instanceof FencedError) this.fenced ??= err;
    else if (!this.fenced) {
      this.failed ??=
        err instanceof S3UnavailableError
          ? err
          : new S3UnavailableError(
              err instanceof CommitUnknownError
                ? 'This writer stopped writing after a write whose outcome is unknown; reopen the store (it replays what was stored)'
                : `Write failed, this instance stopped writing: ${(err as Error)?.message}`,
              err,
            );
    }
    const reason = this.error;
    for (const w of this.bufWaiters.splice(0)) w.reject(reason);
    this.buf = [];
    this.bufBytes = 0;
    this.o.stopped();
  }

  /** Starts a WAL PUT, now or after a gather or the flush interval, if a slot is free. */
  private schedule(): void {
    if (this.buf.length === 0 || this.gathering || this.error) return;
    const full = this.bufBytes >= this.o.walFlushBytes;
    if (this.flights.length >= this.o.walPutsInFlight) {
      if (full) this.flushDue = true;
      else if (this.o.flushIntervalMs > 0) this.armTimer();
      return;
    }
    if (full || this.flushDue) this.startFlush();
    else if (this.o.flushIntervalMs <= 0) this.gatherThenFlush();
    else this.armTimer();
  }

  private armTimer(): void {
    if (this.timerArmed) return;
    this.timerArmed = true;
    const gen = ++this.timerGen;
    void this.o.clock.sleep(this.o.flushIntervalMs).then(() => {
      if (gen !== this.timerGen) return;
      this.timerArmed = false;
      this.flushDue = true;
      this.schedule();
    });
  }

  /**
   * With no flush interval, a WAL PUT first waits while writers keep arriving: one more turn of
   * the event loop as long as the last turn brought new batches, at most `GATHER_MS`. Without
   * this, 64 writers split into cohorts that alternate, one small WAL object each (measured: 32
   * events per WAL PUT, 9,400 events/s; see docs/design/0005).
   */
  private gatherThenFlush(): void {
    const clock = this.o.clock;
    const started = clock.now();
    const gather = async (): Promise<void> => {
      let seen = -1;
      while (this.buf.length !== seen && clock.now() - started < GATHER_MS && this.bufBytes < this.o.walFlushBytes) {
        seen = this.buf.length;
        await clock.sleep(0);
      }
    };
    this.gathering = gather().then(() => {
      this.gathering = undefined;
      if (this.buf.length > 0 && !this.error) this.startFlush();
    });
  }

  /** Sends the buffer as the WAL object of the next slot. */
  private startFlush(): void {
    this.timerGen++;
    this.timerArmed = false;
    this.flushDue = false;
    if (this.buf.length === 0) return;
    const batches = this.buf;
    const waiters = this.bufWaiters;
    this.buf = [];
    this.bufBytes = 0;
    this.bufWaiters = [];
    const frozen = this.o.cut();
    const slot = this.nextSlot++;
    const body = encodeWal(this.o.epoch, batches);
    const flight: Flight = { slot, waiters, frozen, state: 'pending', body, done: Promise.resolve() };
    flight.done = this.put(slot, body).then(
      () => {
        flight.state = 'stored';
        this.settle();
      },
      (err) => {
        flight.state = 'failed';
        flight.error = err;
        // Stop sending at once; flights before this one may still land and be acknowledged.
        this.stop(err);
        this.settle();
      },
    );
    this.flights.push(flight);
    if (this.flights.length > this.putsInFlightMax) this.putsInFlightMax = this.flights.length;
  }

  /**
   * Acknowledges stored flights in slot order. A write is durable only with everything before
   * it, so a failed flight fails itself and every later one, even those already stored (replay
   * stops at the failed slot, and the next writer's fence voids the rest).
   */
  private settle(): void {
    while (this.flights.length > 0) {
      const f = this.flights[0] as Flight;
      if (f.state === 'pending') break;
      if (f.state === 'failed') {
        // The first failed slot decides for itself and every later one: unknown if its outcome
        // is (a later slot may be stored and replayed behind it), else nothing of them is
        // committed and the writer's own error says why (fencing first).
        const reason = f.error instanceof CommitUnknownError ? f.error : (this.error ?? f.error);
        for (const g of this.flights.splice(0)) for (const w of g.waiters) w.reject(reason);
        break;
      }
      this.flights.shift();
      this.objects++;
      this.bytes += f.body.length;
      this.segmentAdd(f.slot, f.body);
      if (f.frozen) f.frozen.lastWalId = f.slot;
      for (const w of f.waiters) w.resolve();
    }
    this.schedule();
    this.o.acknowledged();
  }

  /**
   * Stores a WAL object in its slot. The slot is this writer's alone unless a newer writer fenced
   * it; a torn upload (a damaged object left in the slot) stops the writer, since the slots after
   * it may already hold later batches and nothing may be re-ordered.
   *
   * A PUT that failed after its body may have reached the store (a dropped connection, a 5xx, a
   * timeout, retries used up) has an unknown outcome. The slot is then settled, not guessed: a
   * create-only PUT of a void object either finds our object there (412, same bytes: stored, so
   * acknowledged) or takes the slot, so our PUT can never land later and nothing of it is
   * committed (`S3UnavailableError`). When even that cannot be done (the store is still
   * unreachable) the write fails with `CommitUnknownError` (docs/errors.md, "What a failed write
   * left behind").
   */
  private async put(slot: number, body: Buffer): Promise<void> {
    const key = walKey(this.o.prefix, slot);
    let unknown: unknown;
    for (;;) {
      if (this.fenced) throw this.fenced;
      try {
        if (unknown === undefined) {
          await this.o.store.put(key, body, { ifNoneMatch: '*' });
          return;
        }
        await this.o.store.put(key, VOID_WAL_OBJECT, { ifNoneMatch: '*' });
        throw new S3UnavailableError(
          `WAL slot ${slot} could not be written (${describe(unknown)}); the slot was voided, so nothing of this write was committed. This writer stopped writing: reopen the store`,
          unknown,
        );
      } catch (err) {
        if (err instanceof S3UnavailableError) throw err;
        if (!(err instanceof PreconditionFailedError)) {
          if (unknown !== undefined) throw new CommitUnknownError('a WAL write', unknown, { walSlot: slot });
          if (!mayHaveBeenApplied(err)) throw err;
          unknown = err;
          continue;
        }
      }
      let bytes: Uint8Array | undefined;
      try {
        bytes = await this.o.store.get(key);
      } catch (err) {
        if (unknown !== undefined) throw new CommitUnknownError('a WAL write', unknown, { walSlot: slot });
        throw err;
      }
      if (bytes === undefined) continue;
      if (equalBytes(bytes, body)) return;
      const obj = this.o.reader.tryDecode(bytes, slot);
      if (obj === undefined || obj.epoch <= this.o.epoch) {
        throw new S3UnavailableError(
          `WAL slot ${slot} was stored damaged (a torn upload); this writer stopped writing: reopen the store, which replays what was stored`,
        );
      }
      throw new FencedError(`This writer (epoch ${this.o.epoch}) was fenced by a writer with epoch ${obj.epoch}`, {
        epoch: this.o.epoch,
        by: obj.epoch,
        walSlot: slot,
      });
    }
  }
}

/**
 * Put into a slot whose WAL PUT had an unknown outcome, so that PUT can never land later. Not a
 * WAL object: replay treats it like a torn one (the log ends before it), and the next writer's
 * claim deletes it.
 */
const VOID_WAL_OBJECT = Buffer.from('SWAL void: outcome of this slot was settled as not written\n', 'latin1');

/** Whether a failed PUT may have been applied all the same. */
function mayHaveBeenApplied(err: unknown): boolean {
  return err instanceof ObjectStoreError && (err.outcomeUnknown || err.status === undefined || err.status >= 500);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
