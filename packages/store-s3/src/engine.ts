/**
 * The LSM engine under `S3Level`: opening (fencing, WAL replay), the group-commit write path,
 * memtable flushes, compaction and GC scheduling, and the follower's polling. Design:
 * docs/design/0005-s3-engine.md.
 *
 * @module
 */
import { mkdir, open as openFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockCache } from './block-cache.js';
import { equalBytes } from './bytes.js';
import type { Clock, Random } from './clock.js';
import { planCompaction, runCompaction } from './compactor.js';
import { CorruptionError, FencedError, StoreUnavailableError } from './errors.js';
import { collectGarbage } from './gc.js';
import type { GcResult } from './gc.js';
import type { Manifest, TableMeta } from './manifest.js';
import {
  checkManifestTransition,
  decodeManifest,
  emptyManifest,
  encodeManifest,
  manifestKey,
  manifestVersionOf,
} from './manifest.js';
import { Memtable } from './memtable.js';
import type { RequestCounts } from './object-store/counting.js';
import { CountingObjectStore } from './object-store/counting.js';
import type { RetryOptions } from './object-store/retrying.js';
import { RetryingObjectStore } from './object-store/retrying.js';
import type { ObjectStore } from './object-store/types.js';
import { PreconditionFailedError } from './object-store/types.js';
import type { Version } from './read-path.js';
import { SstBuilder } from './sst/builder.js';
import type { SstBuildOptions, SstSummary } from './sst/builder.js';
import type { RangeSource } from './sst/reader.js';
import { TableHandle, sstKey } from './tables.js';
import type { WalBatch, WalObject } from './wal.js';
import { WAL_WINDOW_MAX, batchBytes, decodeWal, encodeWal, walIdOf, walKey } from './wal.js';

/** Engine settings, defaults applied (see `S3LevelOptions` for their meaning). */
export interface EngineConfig {
  store: ObjectStore;
  prefix: string;
  readOnly: boolean;
  flushIntervalMs: number;
  walFlushBytes: number;
  walPutsInFlight: number;
  memtableBytes: number;
  l0CompactionTrigger: number;
  l0StallTrigger: number;
  targetSstBytes: number;
  sst: SstBuildOptions;
  blockCacheBytes: number;
  diskCacheDir: string | undefined;
  gcGraceMs: number;
  pollIntervalMs: number;
  compaction: boolean;
  gc: boolean;
  clock: Clock;
  random: Random;
  retry: RetryOptions;
  onBackgroundError: (err: unknown) => void;
}

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
  /** Settles (never rejects) when the PUT does. */
  done: Promise<void>;
}

/** Thrown by writes on a read-only instance; abstract-level's code. */
export class ReadOnlyError extends Error {
  readonly code = 'LEVEL_READONLY' as const;
  constructor() {
    super('This S3Level is read-only (a follower); open it without readOnly to write');
    this.name = 'ReadOnlyError';
  }
}

/** Counters besides requests, for tests and the benchmark. */
export interface EngineStats {
  walObjects: number;
  /** Most WAL PUTs that were unacknowledged at once. */
  walPutsInFlightMax: number;
  memtableFlushes: number;
  compactions: number;
  gc: GcResult[];
}

/** Longest wait for more writers before an eager WAL PUT (flush interval 0), ms. */
const GATHER_MS = 1;

/** The engine. One per open `S3Level`. */
export class Engine {
  /** Requests that reached the store (retries included). */
  readonly requests: RequestCounts;
  /** Background work done. */
  readonly stats: EngineStats = { walObjects: 0, walPutsInFlightMax: 0, memtableFlushes: 0, compactions: 0, gc: [] };
  /** This instance's writer epoch (0 for a follower). */
  epoch = 0;
  private readonly store: ObjectStore;
  private readonly counting: CountingObjectStore;
  private readonly cache: BlockCache;
  private manifest: Manifest = { ...emptyManifest(), version: 0 };
  private mem = new Memtable();
  private imm: Memtable[] = [];
  private l0: TableHandle[] = [];
  private l1: TableHandle[] = [];
  private readonly handles = new Map<string, TableHandle>();
  private nextWalId = 1;
  private sstSeq = 1;
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
  private forceFreeze = false;
  private fenced: FencedError | undefined;
  private failed: Error | undefined;
  private closing = false;
  private flushTask: Promise<void> | undefined;
  private compactTask: Promise<void> | undefined;
  private manifestLock: Promise<unknown> = Promise.resolve();
  private stallWaiters: (() => void)[] = [];
  private bgFailures = 0;
  private flushBackoff = false;
  private compactBackoff = false;
  // follower state
  private followerWal = new Map<number, WalBatch[]>();
  private lastWalId = 0;
  private pollGen = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly cfg: EngineConfig) {
    this.counting = new CountingObjectStore(cfg.store);
    this.requests = this.counting.counts;
    this.store = new RetryingObjectStore(this.counting, cfg.clock, cfg.random, cfg.retry);
    this.cache = new BlockCache(cfg.blockCacheBytes);
  }

  // ---------------------------------------------------------------- open / close

  /** Opens as writer (fencing the previous one) or as follower. */
  async open(): Promise<void> {
    if (this.cfg.diskCacheDir) await mkdir(this.cfg.diskCacheDir, { recursive: true });
    if (this.cfg.readOnly) return this.openFollower();
    for (;;) {
      const { manifest: latest, topSlot } = await this.readLatestManifest(0);
      const next: Manifest = latest
        ? { ...latest, version: topSlot + 1, epoch: latest.epoch + 1 }
        : { ...emptyManifest(), version: topSlot + 1 };
      checkManifestTransition(latest, next, true);
      try {
        await this.store.put(manifestKey(this.cfg.prefix, next.version), encodeManifest(next), { ifNoneMatch: '*' });
        this.manifest = next;
        break;
      } catch (err) {
        // Another writer opened (or committed) meanwhile: start again from its manifest.
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    this.epoch = this.manifest.epoch;
    this.sstSeq = this.manifest.nextSstSeq;
    this.installTables(this.manifest);
    const resume = await this.claimWal(await this.replayWal(this.manifest.walReplayFrom, (batches) => this.applyAll(batches)));
    this.nextWalId = resume;
    // Replay restarts at the first slot this writer will fill.
    if (this.mem.bytes >= this.cfg.memtableBytes) this.freeze(resume - 1);
    this.maybeFlushImm();
    this.maybeCompact();
  }

  private applyAll(batches: WalBatch[]): void {
    for (const b of batches) this.mem.apply(b);
  }

  /**
   * Claims the first slot replay did not consume with a fence object: the previous writer's PUT
   * of that slot then hits 412, finds our epoch, and it stops. Objects the previous writer stored
   * meanwhile continue its log and are replayed first; a torn object is deleted (its writer
   * stopped at it and never acknowledged it or anything after it) so the slot can be claimed.
   * The fence object tells replay to resume `WAL_WINDOW_MAX` slots later, past every slot the
   * previous writer may still fill. Returns this writer's first slot.
   */
  private async claimWal(from: number): Promise<number> {
    let slot = from;
    for (;;) {
      const resumeAt = slot + WAL_WINDOW_MAX;
      try {
        await this.store.put(walKey(this.cfg.prefix, slot), encodeWal(this.epoch, [], resumeAt), { ifNoneMatch: '*' });
        return resumeAt;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const bytes = await this.store.get(walKey(this.cfg.prefix, slot));
      if (bytes === undefined) continue;
      const obj = this.tryDecodeWal(bytes, slot);
      if (obj === undefined) {
        await this.store.delete(walKey(this.cfg.prefix, slot));
        continue;
      }
      if (obj.epoch > this.epoch) throw new FencedError('Fenced while opening', { epoch: this.epoch, by: obj.epoch });
      this.applyAll(obj.batches);
      slot = obj.resumeAt || slot + 1;
    }
  }

  /** Stops background work; a writer first makes pending writes durable. */
  async close(): Promise<void> {
    this.pollGen++;
    if (!this.cfg.readOnly && !this.fenced && !this.failed) {
      await this.drainWal();
    }
    this.closing = true;
    this.timerGen++;
    await this.refreshing?.catch(() => undefined);
    await this.flushTask?.catch(() => undefined);
    await this.compactTask?.catch(() => undefined);
    for (const w of this.stallWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- reads

  /** The current version, captured synchronously (an implicit snapshot). */
  version(): Version {
    return {
      mems: [this.mem.snapshot(), ...this.imm.map((m) => m.snapshot())],
      l0: this.l0.slice(),
      l1: this.l1,
    };
  }

  /** Pins a version's tables against GC in this process. */
  pin(v: Version): void {
    for (const t of v.l0) t.pins++;
    for (const t of v.l1) t.pins++;
  }

  /** Releases {@link Engine.pin}. */
  unpin(v: Version): void {
    for (const t of v.l0) t.pins--;
    for (const t of v.l1) t.pins--;
  }

  /** The manifest this instance works from. */
  currentManifest(): Manifest {
    return this.manifest;
  }

  // ---------------------------------------------------------------- write path

  /**
   * Applies an atomic batch now (visible to this process at once) and queues it for the next WAL
   * object. With `durable`, the promise resolves once that object is stored.
   */
  write(batch: WalBatch, durable: boolean): Promise<void> | undefined {
    this.assertWritable();
    this.mem.apply(batch);
    this.buf.push(batch);
    this.bufBytes += batchBytes(batch);
    let p: Promise<void> | undefined;
    if (durable) p = new Promise<void>((resolve, reject) => this.bufWaiters.push({ resolve, reject }));
    this.schedule();
    if (this.l0.length + this.imm.length >= this.cfg.l0StallTrigger && !this.compactBackoff && !this.flushBackoff) {
      // Too many tables to merge: slow writers down until compaction catches up.
      const stall = new Promise<void>((resolve) => this.stallWaiters.push(resolve));
      return p ? Promise.all([p, stall]).then(() => undefined) : stall;
    }
    return p;
  }

  private assertWritable(): void {
    if (this.cfg.readOnly) throw new ReadOnlyError();
    if (this.fenced) throw this.fenced;
    if (this.failed) throw this.failed;
    // The manifest this writer works from must still be its own: a bug elsewhere must not let
    // a write through under a foreign epoch.
    if (this.manifest.epoch !== this.epoch) {
      throw new FencedError('Manifest epoch differs from this writer', { epoch: this.epoch, manifest: this.manifest.epoch });
    }
  }

  /** Starts a WAL PUT, now or after a gather or the flush interval, if a slot is free. */
  private schedule(): void {
    if (this.buf.length === 0 || this.gathering || this.fenced || this.failed) return;
    const full = this.bufBytes >= this.cfg.walFlushBytes;
    if (this.flights.length >= this.cfg.walPutsInFlight) {
      if (full) this.flushDue = true;
      else if (this.cfg.flushIntervalMs > 0) this.armTimer();
      return;
    }
    if (full || this.flushDue) this.startFlush();
    else if (this.cfg.flushIntervalMs <= 0) this.gatherThenFlush();
    else this.armTimer();
  }

  private armTimer(): void {
    if (this.timerArmed) return;
    this.timerArmed = true;
    const gen = ++this.timerGen;
    void this.cfg.clock.sleep(this.cfg.flushIntervalMs).then(() => {
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
    const clock = this.cfg.clock;
    const started = clock.now();
    const gather = async (): Promise<void> => {
      let seen = -1;
      while (this.buf.length !== seen && clock.now() - started < GATHER_MS && this.bufBytes < this.cfg.walFlushBytes) {
        seen = this.buf.length;
        await clock.sleep(0);
      }
    };
    this.gathering = gather().then(() => {
      this.gathering = undefined;
      if (this.buf.length > 0 && !this.fenced && !this.failed) this.startFlush();
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
    // Freeze at this WAL boundary: the frozen table holds exactly the WAL slots up to this one.
    const frozen =
      (this.forceFreeze || this.mem.bytes >= this.cfg.memtableBytes) && !this.mem.isEmpty ? this.mem : undefined;
    this.forceFreeze = false;
    // Not flushable before its WAL slot is acknowledged (the slot is set then).
    if (frozen) this.freeze(0);
    const slot = this.nextWalId++;
    const flight: Flight = { slot, waiters, frozen, state: 'pending', done: Promise.resolve() };
    flight.done = this.putWal(slot, encodeWal(this.epoch, batches)).then(
      () => {
        flight.state = 'stored';
        this.settleFlights();
      },
      (err) => {
        flight.state = 'failed';
        flight.error = err;
        // Stop sending at once; flights before this one may still land and be acknowledged.
        this.setBroken(err);
        this.settleFlights();
      },
    );
    this.flights.push(flight);
    if (this.flights.length > this.stats.walPutsInFlightMax) this.stats.walPutsInFlightMax = this.flights.length;
  }

  /**
   * Acknowledges stored flights in slot order. A write is durable only with everything before
   * it, so a failed flight fails itself and every later one, even those already stored (replay
   * stops at the failed slot, and the next writer's fence voids the rest).
   */
  private settleFlights(): void {
    while (this.flights.length > 0) {
      const f = this.flights[0] as Flight;
      if (f.state === 'pending') break;
      if (f.state === 'failed') {
        const reason = this.fenced ?? this.failed ?? f.error;
        for (const g of this.flights.splice(0)) for (const w of g.waiters) w.reject(reason);
        break;
      }
      this.flights.shift();
      this.stats.walObjects++;
      if (f.frozen) f.frozen.lastWalId = f.slot;
      for (const w of f.waiters) w.resolve();
    }
    this.schedule();
    this.maybeFlushImm();
  }

  /** Resolves once every buffered write was sent and every WAL PUT settled. */
  private async drainWal(): Promise<void> {
    for (;;) {
      // Stored flights wait for the pending ones before them: await those (awaiting a stored
      // flight again and again would spin on microtasks and starve the PUTs it waits for).
      const pending = this.flights.find((f) => f.state === 'pending');
      if (pending) await pending.done;
      else if (this.gathering) await this.gathering;
      else if (this.buf.length > 0 && !this.fenced && !this.failed) this.startFlush();
      else return;
    }
  }

  /** Freezes the memtable; `durableThrough` is its last WAL slot if already stored, else 0. */
  private freeze(durableThrough: number): void {
    this.mem.lastWalId = durableThrough;
    this.imm.unshift(this.mem);
    this.mem = new Memtable();
  }

  private setBroken(err: unknown): void {
    if (err instanceof FencedError) this.fenced ??= err;
    else if (!this.fenced) {
      this.failed ??=
        err instanceof StoreUnavailableError
          ? err
          : new StoreUnavailableError(`Write failed, this instance stopped writing: ${(err as Error)?.message}`, err);
    }
    for (const w of this.stallWaiters.splice(0)) w();
    // Buffered writes will never be stored by this instance. (WAL PUTs already in flight settle
    // on their own, in order: one that lands with all before it is replayed by the next writer,
    // so acknowledging it is right.)
    const reason = this.fenced ?? this.failed;
    for (const w of this.bufWaiters.splice(0)) w.reject(reason);
    this.buf = [];
    this.bufBytes = 0;
  }

  /**
   * Stores a WAL object in its slot. The slot is this writer's alone unless a newer writer fenced
   * it; a torn upload (a damaged object left in the slot) stops the writer, since the slots after
   * it may already hold later batches and nothing may be re-ordered.
   */
  private async putWal(slot: number, body: Buffer): Promise<void> {
    for (;;) {
      if (this.fenced) throw this.fenced;
      try {
        await this.store.put(walKey(this.cfg.prefix, slot), body, { ifNoneMatch: '*' });
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const bytes = await this.store.get(walKey(this.cfg.prefix, slot));
      if (bytes === undefined) continue;
      if (equalBytes(bytes, body)) return;
      const obj = this.tryDecodeWal(bytes, slot);
      if (obj === undefined) {
        throw new StoreUnavailableError(
          `WAL slot ${slot} was stored damaged (a torn upload); this writer stopped writing: reopen the store, which replays what was stored`,
        );
      }
      throw new FencedError(`This writer (epoch ${this.epoch}) was fenced by a writer with epoch ${obj.epoch}`, {
        epoch: this.epoch,
        by: obj.epoch,
        walSlot: slot,
      });
    }
  }

  // ---------------------------------------------------------------- manifest

  /**
   * The newest valid manifest with a version above `after` (undefined if none), and the highest
   * manifest slot in use. A torn manifest (a failed upload that left a truncated object) is void:
   * its writer was never told it succeeded, so it is skipped and its slot is never reused.
   */
  private async readLatestManifest(after: number): Promise<{ manifest: Manifest | undefined; topSlot: number }> {
    const listed = await this.store.list(`${this.cfg.prefix}manifest/`, {
      ...(after > 0 ? { startAfter: manifestKey(this.cfg.prefix, after) } : {}),
    });
    const versions = listed
      .map((o) => manifestVersionOf(this.cfg.prefix, o.key))
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => b - a);
    const topSlot = versions[0] ?? after;
    for (const v of versions) {
      const m = await this.readManifestSlot(v);
      if (m) return { manifest: m, topSlot };
    }
    return { manifest: undefined, topSlot };
  }

  /** The manifest in slot `version`, or undefined when the slot is empty or void (torn). */
  private async readManifestSlot(version: number): Promise<Manifest | undefined> {
    const key = manifestKey(this.cfg.prefix, version);
    const bytes = await this.store.get(key);
    if (!bytes) return undefined;
    try {
      const m = decodeManifest(bytes, key);
      if (m.version !== version) throw new CorruptionError(`${key} holds version ${m.version}`);
      return m;
    } catch (err) {
      if (err instanceof CorruptionError) return undefined;
      throw err;
    }
  }

  /**
   * Writes the next manifest version made by `change` from the current one, then runs `apply`
   * (synchronously, so reads never see a half-applied change). Serialised in this process.
   */
  private commitManifest(change: (cur: Manifest) => Manifest, apply: () => void): Promise<void> {
    const run = async (): Promise<void> => {
      this.assertWritable();
      const cur = this.manifest;
      const next = { ...change(cur), version: cur.version + 1, epoch: cur.epoch, nextSstSeq: Math.max(this.sstSeq, cur.nextSstSeq) };
      for (;;) {
        checkManifestTransition(cur, next, false);
        try {
          await this.store.put(manifestKey(this.cfg.prefix, next.version), encodeManifest(next), { ifNoneMatch: '*' });
          break;
        } catch (err) {
          if (!(err instanceof PreconditionFailedError)) throw err;
        }
        const there = await this.readManifestSlot(next.version);
        if (there === undefined) {
          // A void (torn) slot, likely our own failed upload: use the next one.
          next.version++;
          continue;
        }
        const fenced = new FencedError(
          `This writer (epoch ${this.epoch}) was fenced: manifest ${next.version} exists with epoch ${there.epoch}`,
          { epoch: this.epoch, by: there.epoch },
        );
        this.setBroken(fenced);
        throw fenced;
      }
      this.manifest = next;
      apply();
    };
    const p = this.manifestLock.then(run, run);
    this.manifestLock = p.catch(() => undefined);
    return p;
  }

  private handleFor(meta: TableMeta): TableHandle {
    let h = this.handles.get(meta.id);
    if (!h) {
      h = new TableHandle(meta, this.sourceFor(meta), this.cache);
      this.handles.set(meta.id, h);
    }
    return h;
  }

  private installTables(m: Manifest): void {
    this.l0 = m.l0.map((t) => this.handleFor(t));
    this.l1 = m.l1.map((t) => this.handleFor(t));
    const live = new Set([...m.l0, ...m.l1].map((t) => t.id));
    for (const [id, h] of this.handles) {
      if (!live.has(id) && h.pins <= 0) this.handles.delete(id);
    }
  }

  private sourceFor(meta: TableMeta): RangeSource {
    const key = sstKey(this.cfg.prefix, meta.id);
    const dir = this.cfg.diskCacheDir;
    const fromStore: RangeSource = async (start, end) => {
      const bytes = await this.store.getRange(key, start, end);
      if (!bytes) throw new CorruptionError(`${key} is missing (deleted by GC? a reader older than gcGraceMs)`);
      return bytes;
    };
    if (!dir) return fromStore;
    const path = join(dir, `${meta.id}.sst`);
    let whole: Promise<void> | undefined;
    return async (start, end) => {
      try {
        const fh = await openFile(path, 'r');
        try {
          const out = Buffer.allocUnsafe(end - start);
          const { bytesRead } = await fh.read(out, 0, end - start, start);
          if (bytesRead === end - start) return out;
        } finally {
          await fh.close();
        }
      } catch {
        // not cached yet
      }
      // First touch: fetch the whole table once (one GET), keep it on disk.
      whole ??= (async () => {
        const bytes = await this.store.get(key);
        if (!bytes) throw new CorruptionError(`${key} is missing`);
        const tmp = `${path}.${process.pid}.${Math.floor(this.cfg.random() * 1e9)}.tmp`;
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      })();
      try {
        await whole;
      } catch (err) {
        whole = undefined;
        return fromStore(start, end).catch(() => {
          throw err;
        });
      }
      const fh = await openFile(path, 'r');
      try {
        const out = Buffer.allocUnsafe(end - start);
        await fh.read(out, 0, end - start, start);
        return out;
      } finally {
        await fh.close();
      }
    };
  }

  private newTableId(): string {
    const seq = this.sstSeq++;
    const rand = Math.floor(this.cfg.random() * 36 ** 6)
      .toString(36)
      .padStart(6, '0');
    return `${this.epoch.toString(36)}-${seq.toString(36).padStart(6, '0')}-${rand}`;
  }

  private async writeTable(bytes: Buffer, summary: SstSummary, rangeDeletes: boolean): Promise<TableMeta> {
    const id = this.newTableId();
    await this.store.put(sstKey(this.cfg.prefix, id), bytes);
    if (this.cfg.diskCacheDir) {
      const path = join(this.cfg.diskCacheDir, `${id}.sst`);
      await writeFile(`${path}.tmp`, bytes).then(() => rename(`${path}.tmp`, path)).catch(() => undefined);
    }
    const meta: TableMeta = { id, size: summary.size, entries: summary.entries };
    if (summary.minKey !== undefined) meta.min = Buffer.from(summary.minKey).toString('base64');
    if (summary.maxKey !== undefined) meta.max = Buffer.from(summary.maxKey).toString('base64');
    if (rangeDeletes) meta.rangeDeletes = true;
    return meta;
  }

  // ---------------------------------------------------------------- WAL replay

  /** A decoded WAL object, or undefined for a torn one (never acknowledged). */
  private tryDecodeWal(bytes: Uint8Array, slot: number): WalObject | undefined {
    try {
      return decodeWal(bytes, walKey(this.cfg.prefix, slot));
    } catch (err) {
      if (err instanceof CorruptionError) return undefined;
      throw err;
    }
  }

  private async readWalSlot(slot: number): Promise<WalObject | undefined> {
    const bytes = await this.store.get(walKey(this.cfg.prefix, slot));
    return bytes === undefined ? undefined : this.tryDecodeWal(bytes, slot);
  }

  /**
   * Replays WAL slots from `from` on, in slot order, and returns the first slot it did not
   * consume. Replay stops at the first missing or torn slot: with several WAL PUTs in flight a
   * later slot can be stored while an earlier one never is, and nothing after the gap was
   * acknowledged. A fence object makes replay jump to its resume slot.
   */
  private async replayWal(from: number, apply: (batches: WalBatch[], slot: number) => void): Promise<number> {
    const listed = await this.store.list(`${this.cfg.prefix}wal/`, { startAfter: walKey(this.cfg.prefix, from - 1) });
    const slots = listed
      .map((o) => walIdOf(this.cfg.prefix, o.key))
      .filter((id): id is number => id !== undefined && id >= from)
      .sort((a, b) => a - b);
    let next = from;
    let fenceEpoch = 0;
    // Fetch a few ahead: replay of a large WAL tail is latency-bound.
    const window = 8;
    const pending = new Map<number, Promise<WalObject | undefined>>();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (slot < next) continue; // skipped by a fence
      if (slot > next) break; // a gap: the log ends here
      for (let j = i; j < Math.min(slots.length, i + window); j++) {
        const ahead = slots[j] as number;
        if (!pending.has(ahead)) {
          const p = this.readWalSlot(ahead);
          p.catch(() => undefined);
          pending.set(ahead, p);
        }
      }
      const obj = await pending.get(slot);
      pending.delete(slot);
      if (!obj) break; // torn: never acknowledged, and neither is anything after it
      if (!this.cfg.readOnly && obj.epoch > this.epoch) {
        throw new FencedError('A newer writer owns this store', { epoch: this.epoch, by: obj.epoch });
      }
      if (obj.epoch < fenceEpoch) {
        throw new CorruptionError(`${walKey(this.cfg.prefix, slot)}: epoch ${obj.epoch} after a fence of epoch ${fenceEpoch}`);
      }
      if (obj.resumeAt) fenceEpoch = obj.epoch;
      apply(obj.batches, slot);
      next = obj.resumeAt || slot + 1;
    }
    return next;
  }

  // ---------------------------------------------------------------- memtable flush

  private maybeFlushImm(): void {
    if (this.flushTask || this.flushBackoff || this.closing || this.fenced || this.failed || this.cfg.readOnly) return;
    const oldest = this.imm[this.imm.length - 1];
    if (!oldest || oldest.lastWalId === 0) return;
    this.flushTask = this.flushImmLoop().then(
      () => {
        this.flushTask = undefined;
        this.bgFailures = 0;
        this.maybeFlushImm();
      },
      (err) => {
        this.background(err);
        this.flushTask = undefined;
        this.flushBackoff = true;
        void this.retryLater(() => {
          this.flushBackoff = false;
          this.maybeFlushImm();
        });
      },
    );
  }

  private async flushImmLoop(): Promise<void> {
    for (;;) {
      const t = this.imm[this.imm.length - 1];
      if (!t || t.lastWalId === 0 || this.closing || this.fenced || this.failed) return;
      const snap = t.snapshot();
      let meta: TableMeta | undefined;
      if (!t.isEmpty) {
        const b = new SstBuilder(this.cfg.sst);
        for (let it = snap.tree.begin; it.valid; it.next()) b.add(it.key, it.value);
        for (const rt of snap.rangeTombstones) b.addRangeTombstone(rt);
        const out = b.finish();
        meta = await this.writeTable(out.bytes, out.summary, snap.rangeTombstones.length > 0);
      }
      await this.commitManifest(
        (cur) => ({
          ...cur,
          l0: meta ? [meta, ...cur.l0] : cur.l0,
          walReplayFrom: Math.max(cur.walReplayFrom, t.lastWalId + 1),
        }),
        () => {
          this.imm = this.imm.filter((m) => m !== t);
          if (meta) this.l0 = [this.handleFor(meta), ...this.l0];
        },
      );
      this.stats.memtableFlushes++;
      this.maybeCompact();
    }
  }

  /**
   * Runs `again` after a backoff: a background task that keeps failing (store down) must not spin.
   */
  private retryLater(again: () => void): Promise<void> {
    // Stalled writers would wait for work that cannot progress now: let them go.
    for (const w of this.stallWaiters.splice(0)) w();
    const delay = Math.min(30_000, 100 * 2 ** Math.min(this.bgFailures++, 10));
    return this.cfg.clock.sleep(delay, { unref: true }).then(again);
  }

  private background(err: unknown): void {
    if (err instanceof FencedError) {
      this.setBroken(err);
      return;
    }
    if (this.closing) return;
    this.cfg.onBackgroundError(err);
  }

  // ---------------------------------------------------------------- compaction and GC

  private maybeCompact(): void {
    if (this.compactTask || this.compactBackoff || this.closing || this.fenced || this.failed || this.cfg.readOnly || !this.cfg.compaction) return;
    if (this.l0.length < this.cfg.l0CompactionTrigger) {
      this.releaseStall();
      return;
    }
    this.compactTask = this.compactOnce().then(
      () => {
        this.compactTask = undefined;
        this.bgFailures = 0;
        this.maybeCompact();
      },
      (err) => {
        this.background(err);
        this.compactTask = undefined;
        this.compactBackoff = true;
        void this.retryLater(() => {
          this.compactBackoff = false;
          this.maybeCompact();
        });
      },
    );
  }

  private releaseStall(): void {
    if (this.l0.length + this.imm.length < this.cfg.l0StallTrigger) for (const w of this.stallWaiters.splice(0)) w();
  }

  /** Merges all of L0 into L1 now (tests; normally triggered by L0's size). */
  async compactNow(): Promise<void> {
    while (this.compactTask) await this.compactTask;
    if (this.l0.length > 0) await this.compactOnce();
  }

  /** Freezes the memtable and writes it (and any frozen ones) to L0 now (tests, benchmarks). */
  async flushMemtable(): Promise<void> {
    this.assertWritable();
    if (!this.mem.isEmpty) {
      // An empty durable batch forces a WAL cut, at which the memtable freezes.
      this.forceFreeze = true;
      await this.write([], true);
    }
    await this.drainWal();
    while (this.flushTask) await this.flushTask;
    this.maybeFlushImm();
    while (this.flushTask) await this.flushTask;
    if (this.failed) throw this.failed;
    if (this.fenced) throw this.fenced;
  }

  private async compactOnce(): Promise<void> {
    const plan = await planCompaction(this.l0.slice(), this.l1);
    if (plan.l0.length === 0) return;
    const outputs: TableMeta[] = [];
    await runCompaction(
      plan,
      this.cfg.sst,
      this.cfg.targetSstBytes,
      async (bytes, summary) => {
        outputs.push(await this.writeTable(bytes, summary, false));
      },
      () => this.closing || this.fenced !== undefined,
    );
    const inputs = new Set([...plan.l0, ...plan.l1].map((t) => t.meta.id));
    const mergeL1 = (l1: TableMeta[]): TableMeta[] => {
      const kept = l1.filter((t) => !inputs.has(t.id));
      return [...kept, ...outputs].sort((a, b) => Buffer.compare(Buffer.from(a.min ?? '', 'base64'), Buffer.from(b.min ?? '', 'base64')));
    };
    await this.commitManifest(
      (cur) => ({ ...cur, l0: cur.l0.filter((t) => !inputs.has(t.id)), l1: mergeL1(cur.l1) }),
      () => {
        this.l0 = this.l0.filter((t) => !inputs.has(t.meta.id));
        this.l1 = this.manifest.l1.map((t) => this.handleFor(t));
        for (const id of inputs) {
          const h = this.handles.get(id);
          if (h && h.pins <= 0) this.handles.delete(id);
        }
      },
    );
    this.stats.compactions++;
    this.releaseStall();
    if (this.cfg.gc) await this.runGc();
  }

  /** One GC pass now (tests; normally after each compaction). */
  async runGc(): Promise<GcResult> {
    const pinned = new Set<string>();
    for (const [id, h] of this.handles) if (h.pins > 0) pinned.add(id);
    const result = await collectGarbage({
      store: this.store,
      prefix: this.cfg.prefix,
      clock: this.cfg.clock,
      graceMs: this.cfg.gcGraceMs,
      epoch: this.epoch,
      pinned,
    });
    for (const id of result.tables) this.cache.dropTable(id);
    this.stats.gc.push(result);
    return result;
  }

  // ---------------------------------------------------------------- follower

  private async openFollower(): Promise<void> {
    const { manifest: latest } = await this.readLatestManifest(0);
    if (latest) this.adoptManifest(latest);
    await this.pullWal();
    this.schedulePoll();
  }

  private adoptManifest(m: Manifest): void {
    this.manifest = m;
    this.installTables(m);
    for (const id of [...this.followerWal.keys()]) if (id < m.walReplayFrom) this.followerWal.delete(id);
    const mem = new Memtable();
    for (const id of [...this.followerWal.keys()].sort((a, b) => a - b)) {
      for (const b of this.followerWal.get(id) as WalBatch[]) mem.apply(b);
    }
    this.mem = mem;
    this.lastWalId = Math.max(this.lastWalId, m.walReplayFrom - 1);
  }

  private async pullWal(): Promise<void> {
    this.lastWalId =
      (await this.replayWal(this.lastWalId + 1, (batches, id) => {
        this.followerWal.set(id, batches);
        this.applyAll(batches);
      })) - 1;
  }

  /** A follower catches up with the writer now (manifest, then WAL). */
  async refresh(): Promise<void> {
    if (!this.cfg.readOnly) return;
    this.refreshing ??= (async () => {
      try {
        const { manifest: latest } = await this.readLatestManifest(this.manifest.version);
        if (latest && latest.version > this.manifest.version) this.adoptManifest(latest);
        await this.pullWal();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private schedulePoll(): void {
    const gen = ++this.pollGen;
    const loop = async (): Promise<void> => {
      while (gen === this.pollGen) {
        await this.cfg.clock.sleep(this.cfg.pollIntervalMs, { unref: true });
        if (gen !== this.pollGen) return;
        try {
          await this.refresh();
        } catch (err) {
          this.cfg.onBackgroundError(err);
        }
      }
    };
    void loop();
  }
}
