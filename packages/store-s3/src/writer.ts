/**
 * The writer: opening (fencing through the manifest store, WAL replay and claim), the write path
 * (memtable plus the WAL writer), memtable flushes, compaction and GC, each flush and compaction
 * a background task with backoff. Design: docs/design/0005-s3-engine.md.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { BackgroundTask } from './background.js';
import { planCompaction, runCompaction } from './compactor.js';
import { Engine } from './engine.js';
import type { EngineConfig } from './engine.js';
import { FencedError } from './errors.js';
import { collectGarbage } from './gc.js';
import type { GcResult } from './gc.js';
import type { Manifest, TableMeta } from './manifest/format.js';
import { Memtable } from './memtable.js';
import { SstBuilder } from './sst/builder.js';
import type { SstSummary } from './sst/builder.js';
import { sstKey } from './tables.js';
import type { WalBatch } from './wal/format.js';
import { WalWriter } from './wal/writer.js';

/** The engine of the one writer of a store. */
export class Writer extends Engine {
  private wal: WalWriter | undefined;
  private sstSeq = 1;
  private forceFreeze = false;
  /** WAL objects the mutable memtable spans (replayed ones included). */
  private memWalObjects = 0;
  private closing = false;
  private manifestLock: Promise<unknown> = Promise.resolve();
  private stallWaiters: (() => void)[] = [];
  private readonly flushTask: BackgroundTask;
  private readonly compactTask: BackgroundTask;

  constructor(cfg: EngineConfig) {
    super(cfg);
    const common = {
      clock: cfg.clock,
      random: cfg.random,
      failed: (err: unknown) => this.background(err),
      // Stalled writers would wait for work that cannot progress now: let them go.
      backingOff: () => this.releaseStall(true),
    };
    this.flushTask = new BackgroundTask({
      ...common,
      ready: () => {
        const oldest = this.imm[this.imm.length - 1];
        return this.active && oldest !== undefined && oldest.lastWalId !== 0;
      },
      run: () => this.flushImmLoop(),
    });
    this.compactTask = new BackgroundTask({
      ...common,
      ready: () => {
        if (!this.active || !cfg.compaction) return false;
        if (this.l0.length < cfg.l0CompactionTrigger) {
          this.releaseStall(false);
          return false;
        }
        return true;
      },
      run: () => this.compactOnce(),
    });
  }

  /** Not closing, fenced or failed. */
  private get active(): boolean {
    return !this.closing && !this.wal?.error;
  }

  async open(): Promise<void> {
    if (this.cfg.diskCacheDir) await mkdir(this.cfg.diskCacheDir, { recursive: true });
    // The WAL after the replay point is read while the fencing manifest is being written: one
    // round trip less on every open (docs/design/0005, "Opening a writer").
    const { manifest, result: replayed } = await this.manifests.fenceWhile((next) => this.replayWal(next));
    this.manifest = manifest;
    this.epoch = manifest.epoch;
    this.sstSeq = manifest.nextSstSeq;
    this.installTables(manifest);
    this.mem = replayed.mem;
    this.memWalObjects = replayed.objects;
    this.stats.walReplayed = replayed.objects;
    const resume = await this.walReader.claim(replayed.next, this.epoch, (batches) => {
      this.memWalObjects++;
      this.stats.walReplayed++;
      this.applyAll(batches);
    });
    this.wal = new WalWriter({
      store: this.store,
      reader: this.walReader,
      prefix: this.cfg.prefix,
      epoch: this.epoch,
      firstSlot: resume,
      flushIntervalMs: this.cfg.flushIntervalMs,
      walFlushBytes: this.cfg.walFlushBytes,
      walPutsInFlight: this.cfg.walPutsInFlight,
      walSegmentObjects: this.cfg.walSegmentObjects,
      clock: this.cfg.clock,
      cut: () => this.cut(),
      acknowledged: () => {
        this.stats.walObjects = this.walWriter.objects;
        this.stats.walBytes = this.walWriter.bytes;
        this.stats.walSegments = this.walWriter.segments;
        this.stats.walPutsInFlightMax = this.walWriter.putsInFlightMax;
        this.flushTask.kick();
      },
      stopped: () => this.releaseStall(true),
      segmentFailed: (err) => {
        if (!this.closing) this.cfg.onBackgroundError(err);
      },
    });
    // Replay restarts at the first slot this writer will fill.
    if (this.mem.bytes >= this.cfg.memtableBytes || this.memWalObjects >= this.cfg.walReplayMaxObjects) this.freeze(resume - 1);
    this.flushTask.kick();
    this.compactTask.kick();
  }

  /**
   * Replays the WAL after `next`'s replay point into a memtable of its own, with `next`'s epoch
   * (an object of a newer one fences this opener), and starts opening `next`'s L0 tables. Only
   * reads, so it may run before `next` is stored, and be dropped.
   */
  private async replayWal(next: Manifest): Promise<{ mem: Memtable; objects: number; next: number }> {
    this.installTables(next);
    this.prefetchL0();
    const mem = new Memtable();
    let objects = 0;
    const end = await this.walReader.replay(
      next.walReplayFrom,
      (batches) => {
        objects++;
        for (const b of batches) mem.apply(b);
      },
      next.epoch,
    );
    return { mem, objects, next: end };
  }

  private get walWriter(): WalWriter {
    if (!this.wal) throw new Error('S3 writer is not open');
    return this.wal;
  }

  async close(): Promise<void> {
    if (this.wal && !this.wal.error) await this.wal.drain();
    await this.wal?.segmentsIdle();
    this.closing = true;
    this.wal?.cancelTimer();
    await this.flushTask.stop();
    await this.compactTask.stop();
    this.releaseStall(true);
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- write path

  write(batch: WalBatch, durable: boolean): Promise<void> | undefined {
    this.assertWritable();
    this.mem.apply(batch);
    const p = this.walWriter.append(batch, durable);
    if (this.l0.length + this.imm.length >= this.cfg.l0StallTrigger && !this.compactTask.backingOff && !this.flushTask.backingOff) {
      // Too many tables to merge: slow writers down until compaction catches up.
      const stall = new Promise<void>((resolve) => this.stallWaiters.push(resolve));
      return p ? Promise.all([p, stall]).then(() => undefined) : stall;
    }
    return p;
  }

  private assertWritable(): void {
    const broken = this.walWriter.error;
    if (broken) throw broken;
    // The manifest this writer works from must still be its own: a bug elsewhere must not let
    // a write through under a foreign epoch (docs/design/0005, "Manifest and fencing").
    if (this.manifest.epoch !== this.epoch) {
      throw new FencedError('Manifest epoch differs from this writer', { epoch: this.epoch, manifest: this.manifest.epoch });
    }
  }

  /**
   * At a WAL cut: freezes the memtable when it is full, spans `walReplayMaxObjects` WAL objects
   * (bounded replay), or a flush was asked for. The frozen table holds exactly the WAL slots up to
   * this one, and is not flushable before that slot is acknowledged (its `lastWalId` is set then:
   * docs/design/0005, "Frozen memtables wait for their slot").
   */
  private cut(): Memtable | undefined {
    this.memWalObjects++;
    const due = this.forceFreeze || this.mem.bytes >= this.cfg.memtableBytes || this.memWalObjects >= this.cfg.walReplayMaxObjects;
    const frozen = due && !this.mem.isEmpty ? this.mem : undefined;
    this.forceFreeze = false;
    if (frozen) this.freeze(0);
    return frozen;
  }

  /** Freezes the memtable; `durableThrough` is its last WAL slot if already stored, else 0. */
  private freeze(durableThrough: number): void {
    this.memWalObjects = 0;
    this.mem.lastWalId = durableThrough;
    this.imm.unshift(this.mem);
    this.mem = new Memtable();
  }

  /** Lets writers waiting on compaction go: all of them, or (`all` false) once L0 is small again. */
  private releaseStall(all: boolean): void {
    if (all || this.l0.length + this.imm.length < this.cfg.l0StallTrigger) for (const w of this.stallWaiters.splice(0)) w();
  }

  private background(err: unknown): void {
    if (err instanceof FencedError) {
      this.wal?.stop(err);
      return;
    }
    if (this.closing) return;
    this.cfg.onBackgroundError(err);
  }

  // ---------------------------------------------------------------- manifest

  /**
   * Writes the next manifest version made by `change` from the current one, then runs `apply`
   * (synchronously, so reads never see a half-applied change). Serialised in this process.
   */
  private commitManifest(change: (cur: Manifest) => Manifest, apply: () => void): Promise<void> {
    const run = async (): Promise<void> => {
      this.assertWritable();
      const cur = this.manifest;
      try {
        this.manifest = await this.manifests.commit(cur, { ...change(cur), nextSstSeq: Math.max(this.sstSeq, cur.nextSstSeq) });
      } catch (err) {
        if (err instanceof FencedError) this.wal?.stop(err);
        throw err;
      }
      apply();
    };
    const p = this.manifestLock.then(run, run);
    this.manifestLock = p.catch(() => undefined);
    return p;
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
    const meta: TableMeta = { id, size: summary.size, entries: summary.entries };
    if (summary.minKey !== undefined) meta.min = Buffer.from(summary.minKey).toString('base64');
    if (summary.maxKey !== undefined) meta.max = Buffer.from(summary.maxKey).toString('base64');
    if (rangeDeletes) meta.rangeDeletes = true;
    return meta;
  }

  // ---------------------------------------------------------------- memtable flush

  private async flushImmLoop(): Promise<void> {
    for (;;) {
      const t = this.imm[this.imm.length - 1];
      if (!t || t.lastWalId === 0 || !this.active) return;
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
          // M6 (walReplayFrom never goes back): max, since a fence may have moved it further.
          walReplayFrom: Math.max(cur.walReplayFrom, t.lastWalId + 1),
        }),
        () => {
          this.imm = this.imm.filter((m) => m !== t);
          if (meta) this.l0 = [this.handleFor(meta), ...this.l0];
        },
      );
      this.stats.memtableFlushes++;
      this.compactTask.kick();
    }
  }

  /** Freezes the memtable and writes it (and any frozen ones) to L0 now (tests, benchmarks). */
  async flushMemtable(): Promise<void> {
    this.assertWritable();
    const wal = this.walWriter;
    if (!this.mem.isEmpty) {
      // An empty durable batch forces a WAL cut, at which the memtable freezes.
      this.forceFreeze = true;
      await this.write([], true);
    }
    await wal.drain();
    await this.flushTask.idle();
    this.flushTask.kick();
    await this.flushTask.idle();
    if (wal.error) throw wal.error;
  }

  // ---------------------------------------------------------------- compaction and GC

  /** Merges all of L0 into L1 now (tests; normally triggered by L0's size). */
  async compactNow(): Promise<void> {
    await this.compactTask.idle();
    if (this.l0.length > 0) await this.compactOnce();
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
      () => this.closing || this.wal?.error instanceof FencedError,
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
    this.releaseStall(false);
    if (this.cfg.gc) await this.runGc();
  }

  /** One GC pass now (tests; normally after each compaction). */
  async runGc(): Promise<GcResult> {
    const pinned = new Set<string>();
    for (const [id, h] of this.handles) if (h.pins > 0) pinned.add(id);
    const result = await collectGarbage({
      store: this.store,
      prefix: this.cfg.prefix,
      graceMs: this.cfg.gcGraceMs,
      epoch: this.epoch,
      pinned,
    });
    for (const id of result.tables) this.cache.dropTable(id);
    this.stats.gc.push(result);
    return result;
  }
}
