/**
 * What the writer and the follower share: the object-store stack (counting, retrying, disk
 * cache), the manifest store and WAL reader, the open tables and the memtables, and the read
 * snapshot (`version()`). The writer (`writer.ts`) adds the WAL writer, flushes, compaction and
 * GC; the follower (`follower.ts`) adds polling. Design: docs/design/0005-s3-engine.md.
 *
 * @module
 */
import { BlockCache } from './block-cache.js';
import type { Clock, Random } from './clock.js';
import { CorruptionError } from '@strand/core';
import type { GcResult } from './gc.js';
import type { Manifest, TableMeta } from './manifest/format.js';
import { emptyManifest } from './manifest/format.js';
import { ManifestStore } from './manifest/store.js';
import { Memtable } from './memtable.js';
import type { RequestCounts } from './object-store/counting.js';
import { CountingObjectStore } from './object-store/counting.js';
import { DiskCacheObjectStore } from './object-store/disk-cache.js';
import type { RetryOptions } from './object-store/retrying.js';
import { RetryingObjectStore } from './object-store/retrying.js';
import type { ObjectStore } from './object-store/types.js';
import type { Version } from './read-path.js';
import type { SstBuildOptions } from './sst/builder.js';
import { TableHandle, sstIdOf, sstKey } from './tables.js';
import type { WalBatch } from './wal/format.js';
import { WalReader } from './wal/replay.js';

/** Engine settings, defaults applied (see `S3LevelOptions` for their meaning). */
export interface EngineConfig {
  store: ObjectStore;
  prefix: string;
  readOnly: boolean;
  flushIntervalMs: number;
  walFlushBytes: number;
  walPutsInFlight: number;
  walSegmentObjects: number;
  memtableBytes: number;
  walReplayMaxObjects: number;
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
  /** Follower: called after a refresh that saw new data. */
  onRefresh?: () => void;
}

/** Counters besides requests, for tests and the benchmark. */
export interface EngineStats {
  walObjects: number;
  /** Bytes of those WAL objects. */
  walBytes: number;
  /** WAL segments stored (docs/design/0005, "Bounded replay"). */
  walSegments: number;
  /** Most WAL PUTs that were unacknowledged at once. */
  walPutsInFlightMax: number;
  /** WAL objects the open replayed (a writer's: those its fence claim found included). */
  walReplayed: number;
  memtableFlushes: number;
  compactions: number;
  gc: GcResult[];
}

/** The engine under one open `S3Level`: a `Writer` or a `Follower`. */
export abstract class Engine {
  /** Requests that reached the store (retries included). */
  readonly requests: RequestCounts;
  /** Background work done. */
  readonly stats: EngineStats = { walObjects: 0, walBytes: 0, walSegments: 0, walPutsInFlightMax: 0, walReplayed: 0, memtableFlushes: 0, compactions: 0, gc: [] };
  /** This instance's writer epoch (0 for a follower). */
  epoch = 0;
  protected readonly store: ObjectStore;
  protected readonly cache: BlockCache;
  protected readonly manifests: ManifestStore;
  protected readonly walReader: WalReader;
  protected manifest: Manifest = { ...emptyManifest(), version: 0 };
  protected mem = new Memtable();
  protected imm: Memtable[] = [];
  protected l0: TableHandle[] = [];
  protected l1: TableHandle[] = [];
  protected readonly handles = new Map<string, TableHandle>();

  constructor(protected readonly cfg: EngineConfig) {
    const counting = new CountingObjectStore(cfg.store);
    this.requests = counting.counts;
    const retrying = new RetryingObjectStore(counting, cfg.clock, cfg.random, cfg.retry);
    this.store = cfg.diskCacheDir
      ? new DiskCacheObjectStore(retrying, cfg.diskCacheDir, (key) => {
          const id = sstIdOf(cfg.prefix, key);
          return id === undefined ? undefined : `${id}.sst`;
        }, cfg.random)
      : retrying;
    this.cache = new BlockCache(cfg.blockCacheBytes);
    this.manifests = new ManifestStore(this.store, cfg.prefix);
    this.walReader = new WalReader(this.store, cfg.prefix);
  }

  /** Opens: a writer fences the previous one and replays the WAL; a follower catches up. */
  abstract open(): Promise<void>;

  /** Stops background work; a writer first makes pending writes durable. */
  abstract close(): Promise<void>;

  /**
   * Applies an atomic batch now (visible to this process at once) and queues it for the next WAL
   * object. With `durable`, the promise resolves once that object is stored.
   */
  abstract write(batch: WalBatch, durable: boolean): Promise<void> | undefined;

  /** A follower catches up with the writer now (manifest, then WAL); a writer does nothing. */
  abstract refresh(): Promise<void>;

  /** Writer: freezes the memtable and writes it (and any frozen ones) to L0 now. */
  abstract flushMemtable(): Promise<void>;

  /** Writer: merges all of L0 into L1 now (then GC). */
  abstract compactNow(): Promise<void>;

  /** Writer: one GC pass now. */
  abstract runGc(): Promise<GcResult>;

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

  protected applyAll(batches: WalBatch[]): void {
    for (const b of batches) this.mem.apply(b);
  }

  protected handleFor(meta: TableMeta): TableHandle {
    let h = this.handles.get(meta.id);
    if (!h) {
      const key = sstKey(this.cfg.prefix, meta.id);
      h = new TableHandle(
        meta,
        async (start, end) => {
          const bytes = await this.store.getRange(key, start, end);
          if (!bytes) throw new CorruptionError(`${key} is missing (deleted by GC? a reader older than gcGraceMs)`);
          return bytes;
        },
        this.cache,
      );
      this.handles.set(meta.id, h);
    }
    return h;
  }

  /**
   * Starts opening every L0 table's reader (a GET of its tail each, at once): a point read or a
   * scan that the memtable does not answer consults every L0 table whose range covers it, one
   * after the other, and the first reads after an open (the event log's format record, its last
   * position, its schemas) would each wait for those GETs in turn. L0 holds at most
   * `l0StallTrigger` tables; an L1 table is opened when a read first needs it.
   */
  protected prefetchL0(): void {
    for (const t of this.l0) t.reader().catch(() => undefined); // a failed open is retried by the read that needs it
  }

  protected installTables(m: Manifest): void {
    this.l0 = m.l0.map((t) => this.handleFor(t));
    this.l1 = m.l1.map((t) => this.handleFor(t));
    const live = new Set([...m.l0, ...m.l1].map((t) => t.id));
    for (const [id, h] of this.handles) {
      if (!live.has(id) && h.pins <= 0) this.handles.delete(id);
    }
  }
}
