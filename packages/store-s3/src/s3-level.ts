/**
 * `S3Level`: an `abstract-level` database whose data lives in an S3-compatible bucket.
 *
 * @module
 */
import { InvalidArgumentError, assertCount } from '@strand/core';
import { AbstractIterator, AbstractLevel } from 'abstract-level';
import type { AbstractDatabaseOptions, AbstractIteratorOptions, AbstractOpenOptions } from 'abstract-level';
import type { Clock, Random } from './clock.js';
import { systemClock } from './clock.js';
import type { Engine, EngineConfig, EngineStats } from './engine.js';
import { Follower } from './follower.js';
import type { GcResult } from './gc.js';
import type { Manifest } from './manifest/format.js';
import type { RequestCounts } from './object-store/counting.js';
import type { RetryOptions } from './object-store/retrying.js';
import type { ObjectStore } from './object-store/types.js';
import { rangeFromOptions } from './range.js';
import type { LevelRangeOptions } from './range.js';
import { MergedScan, getFromVersion } from './read-path.js';
import type { Version } from './read-path.js';
import type { WalBatch } from './wal/format.js';
import { Writer } from './writer.js';
import { WAL_WINDOW_MAX, addRegion, findContaining } from './wal/format.js';
import { SEGMENT_MAX_OBJECTS } from './wal/segment.js';

/** Binary keys and values as abstract-level hands them to the private API. */
type Bytes = Uint8Array;

/**
 * When a write is acknowledged: the event log's names (`EventLogOptions.durability`), so one
 * setting means one thing end to end. `'async'` is the old name of `'buffered'` and still accepted.
 */
export type Durability = 'sync' | 'buffered';

/** Options of {@link S3Level}. All sizes in bytes, times in milliseconds. */
export interface S3LevelOptions<K = string, V = string> extends AbstractDatabaseOptions<K, V> {
  /** The bucket (`S3ObjectStore`, or `InMemoryObjectStore` in tests). */
  store: ObjectStore;
  /** Key prefix of this store in the bucket, e.g. `'tenants/acme/'` (default `''`). */
  prefix?: string;
  /** A follower: reads only, follows the writer with bounded staleness, never fences. */
  readOnly?: boolean;
  /**
   * Default acknowledgement of writes: `'sync'` (default) resolves once the write's WAL object is
   * stored; `'buffered'` resolves at once (durable within about one flush interval; a crash may lose
   * the last interval's writes, whole batches only). `{ sync: true }` on a call forces a durable
   * write, `{ sync: false }` an early one.
   */
  durability?: Durability;
  /**
   * Group-commit window: a WAL object is written at most this long after its first write (default
   * 0: as soon as a WAL PUT slot is free, which groups writes arriving meanwhile; raise it to trade
   * latency for fewer PUTs under light load).
   */
  flushIntervalMs?: number;
  /** Write the WAL object early once it holds this much (default 1 MiB). */
  walFlushBytes?: number;
  /**
   * WAL PUTs kept in flight at once, 1 to 16 (default 2). More overlap the store's latency; writes
   * are still acknowledged strictly in WAL order (docs/design/0005).
   */
  walPutsInFlight?: number;
  /**
   * WAL objects copied into one WAL segment once acknowledged (default 32, at most 256; 0 = no
   * segments): a reopen reads a segment per GET instead of a WAL object per GET
   * (docs/design/0005, "Bounded replay").
   */
  walSegmentObjects?: number;
  /** Memtable size that triggers a flush to an L0 table (default 16 MiB). */
  memtableBytes?: number;
  /**
   * WAL objects a memtable may span before it is flushed to an L0 table whatever its size
   * (default 512): bounds what a reopen after a crash must replay (docs/design/0005, "Bounded replay").
   */
  walReplayMaxObjects?: number;
  /** L0 tables that trigger a compaction (default 4). */
  l0CompactionTrigger?: number;
  /** L0 tables (plus frozen memtables) at which writes wait for compaction (default 16). */
  l0StallTrigger?: number;
  /** Target size of compaction output tables (default 8 MiB). */
  targetSstBytes?: number;
  /** Target uncompressed size of an SST block (default 4 KiB). */
  blockBytes?: number;
  /** Deflate SST blocks (default false). */
  compress?: boolean;
  /** Bloom filter bits per key (default 10, ~1% false positives). */
  bloomBitsPerKey?: number;
  /** In-memory block cache bound (default 64 MiB). */
  blockCacheBytes?: number;
  /** Local directory caching whole SSTs (optional; SSTs are immutable, so never invalidated). */
  diskCacheDir?: string;
  /** Objects no longer referenced are deleted only after this long (default 10 minutes). */
  gcGraceMs?: number;
  /** How often a follower looks for new manifests and WAL objects (default 1,000). */
  pollIntervalMs?: number;
  /** Run compaction in the background (default true). */
  compaction?: boolean;
  /** Run garbage collection after compactions (default true). */
  gc?: boolean;
  /** Time source (tests inject a virtual clock). */
  clock?: Clock;
  /** Randomness for backoff jitter and table ids (tests inject a seeded one). */
  random?: Random;
  /** Retry policy for object store requests. */
  retry?: RetryOptions;
  /** Called with errors of background work (flushes, compaction, follower polls). */
  onBackgroundError?: (err: unknown) => void;
}

/** Write options S3Level understands beyond abstract-level's. */
interface SyncOption {
  sync?: boolean;
}

const kEngine = Symbol('engine');

const S3_OPTION_NAMES = [
  'store',
  'prefix',
  'readOnly',
  'durability',
  'flushIntervalMs',
  'walFlushBytes',
  'walPutsInFlight',
  'walSegmentObjects',
  'memtableBytes',
  'walReplayMaxObjects',
  'l0CompactionTrigger',
  'l0StallTrigger',
  'targetSstBytes',
  'blockBytes',
  'compress',
  'bloomBitsPerKey',
  'blockCacheBytes',
  'diskCacheDir',
  'gcGraceMs',
  'pollIntervalMs',
  'compaction',
  'gc',
  'clock',
  'random',
  'retry',
  'onBackgroundError',
] as const satisfies readonly (keyof S3LevelOptions)[];

/** Integer options and their allowed range (inclusive); the rest are checked by hand below. */
const INTEGER_OPTIONS: Readonly<Record<string, readonly [number, number]>> = {
  flushIntervalMs: [0, 60_000],
  walFlushBytes: [1, 1 << 30],
  walPutsInFlight: [1, WAL_WINDOW_MAX],
  walSegmentObjects: [0, SEGMENT_MAX_OBJECTS],
  memtableBytes: [1, 1 << 30],
  walReplayMaxObjects: [1, 1 << 20],
  l0CompactionTrigger: [1, 1000],
  l0StallTrigger: [1, 1000],
  targetSstBytes: [1, 1 << 30],
  blockBytes: [64, 1 << 24],
  bloomBitsPerKey: [0, 64],
  blockCacheBytes: [0, Number.MAX_SAFE_INTEGER],
  gcGraceMs: [0, Number.MAX_SAFE_INTEGER],
  pollIntervalMs: [1, 3_600_000],
};

/** Rejects a bad option before anything is opened, naming the option and its allowed values. */
function validateOptions(o: { durability?: unknown; prefix?: unknown }): void {
  for (const [name, [min, max]] of Object.entries(INTEGER_OPTIONS)) {
    assertCount(`S3Level: ${name}`, (o as unknown as Record<string, unknown>)[name], { min, max });
  }
  if (o.durability !== undefined && o.durability !== 'sync' && o.durability !== 'buffered' && o.durability !== 'async') {
    throw new InvalidArgumentError(`S3Level: durability must be 'sync' or 'buffered', got ${String(o.durability)}.`);
  }
  if (o.prefix !== undefined && typeof o.prefix !== 'string') {
    throw new InvalidArgumentError(`S3Level: prefix must be a string such as 'tenants/acme/', got ${typeof o.prefix}.`);
  }
}

/**
 * An LSM tree on object storage behind the `abstract-level` interface: a drop-in for
 * `classic-level` or `memory-level`. One writer owns a store at a time (opening a writer fences
 * the previous one: its writes then fail with `FencedError`); any number of `readOnly` followers
 * read it from anywhere.
 */
export class S3Level<K = string, V = string> extends AbstractLevel<Buffer | Uint8Array, K, V> {
  private readonly opts: S3LevelOptions<K, V>;
  private [kEngine]: Engine | undefined;
  private readonly defaultSync: boolean;

  constructor(options: S3LevelOptions<K, V>) {
    const { store } = options;
    const forward: Record<string, unknown> = { ...options };
    // abstract-level hands constructor options on to open() and its hooks: only its own go there.
    for (const k of S3_OPTION_NAMES) delete forward[k];
    if (!store || typeof store.put !== 'function') throw new TypeError('S3Level: options.store must be an ObjectStore');
    validateOptions(options);
    super(
      {
        seek: true,
        implicitSnapshots: true,
        explicitSnapshots: false,
        permanence: true,
        createIfMissing: false,
        errorIfExists: false,
        has: true,
        encodings: { buffer: true, view: true },
        signals: { iterators: false },
      },
      forward as AbstractDatabaseOptions<K, V>,
    );
    this.opts = options;
    this.defaultSync = (options.durability ?? 'sync') === 'sync';
  }

  /**
   * Group commits an event log may keep in flight on this store (read by `EventLog.open` when its
   * `pipelineDepth` is not given): a batch is applied when `batch()` is called, WAL objects are
   * stored in call order and every later batch fails once one fails (docs/design/0002, 0005).
   */
  get strandPipelineDepth(): number {
    return 4;
  }

  private get engine(): Engine {
    const e = this[kEngine];
    if (!e) throw new Error('S3Level is not open');
    return e;
  }

  /** Requests this instance sent to the store since it opened (GET, PUT, LIST, DELETE). */
  get requests(): RequestCounts {
    return this[kEngine]?.requests ?? { get: 0, put: 0, list: 0, delete: 0 };
  }

  /** Background work done since open (WAL objects, flushes, compactions, GC passes). */
  get engineStats(): EngineStats | undefined {
    return this[kEngine]?.stats;
  }

  /** This writer's epoch (0 for a follower or a closed instance). */
  get epoch(): number {
    return this[kEngine]?.epoch ?? 0;
  }

  /** The manifest this instance currently works from. */
  get manifest(): Manifest | undefined {
    return this[kEngine]?.currentManifest();
  }

  /**
   * Follower: catch up with the writer now instead of at the next poll. No-op on a writer. After a
   * refresh (this one or a poll's) that saw new data, the level emits `'refresh'`: the event log
   * on a follower listens to it to move its head, reads and subscriptions along.
   */
  async refresh(): Promise<void> {
    await this.engine.refresh();
  }

  /** Writer: write the memtable to an L0 table now. */
  async flushMemtable(): Promise<void> {
    await this.engine.flushMemtable();
  }

  /** Writer: merge L0 into L1 now (then GC). */
  async compact(): Promise<void> {
    await this.engine.compactNow();
  }

  /** Writer: one garbage collection pass now. */
  async collectGarbage(): Promise<GcResult> {
    return this.engine.runGc();
  }

  async _open(_options: AbstractOpenOptions): Promise<void> {
    const o = this.opts;
    let prefix = o.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    const config: EngineConfig = {
      store: o.store,
      prefix,
      readOnly: o.readOnly ?? false,
      flushIntervalMs: o.flushIntervalMs ?? 0,
      walFlushBytes: o.walFlushBytes ?? 1024 * 1024,
      walPutsInFlight: o.walPutsInFlight ?? 2,
      walSegmentObjects: o.walSegmentObjects ?? 32,
      memtableBytes: o.memtableBytes ?? 16 * 1024 * 1024,
      walReplayMaxObjects: o.walReplayMaxObjects ?? 512,
      l0CompactionTrigger: o.l0CompactionTrigger ?? 4,
      l0StallTrigger: o.l0StallTrigger ?? 16,
      targetSstBytes: o.targetSstBytes ?? 8 * 1024 * 1024,
      sst: {
        blockBytes: o.blockBytes ?? 4096,
        compress: o.compress ?? false,
        bloomBitsPerKey: o.bloomBitsPerKey ?? 10,
      },
      blockCacheBytes: o.blockCacheBytes ?? 64 * 1024 * 1024,
      diskCacheDir: o.diskCacheDir,
      gcGraceMs: o.gcGraceMs ?? 10 * 60 * 1000,
      pollIntervalMs: o.pollIntervalMs ?? 1000,
      compaction: o.compaction ?? true,
      gc: o.gc ?? true,
      clock: o.clock ?? systemClock,
      random: o.random ?? Math.random,
      retry: o.retry ?? {},
      onBackgroundError:
        o.onBackgroundError ??
        ((err) => {
          process.emitWarning(`S3Level background error: ${(err as Error)?.stack ?? String(err)}`);
        }),
      onRefresh: () => this.emit('refresh'),
    };
    const engine: Engine = config.readOnly ? new Follower(config) : new Writer(config);
    await engine.open();
    this[kEngine] = engine;
  }

  async _close(): Promise<void> {
    const e = this[kEngine];
    if (!e) return;
    try {
      await e.close();
    } finally {
      this[kEngine] = undefined;
    }
  }

  async _get(key: Bytes, options: { valueEncoding: string }): Promise<Bytes | undefined> {
    const v = this.engine.version();
    const value = await getFromVersion(v, key);
    return value === undefined ? undefined : output(value, options.valueEncoding);
  }

  async _getMany(keys: Bytes[], options: { valueEncoding: string }): Promise<(Bytes | undefined)[]> {
    const v = this.engine.version();
    const values = await Promise.all(keys.map((k) => getFromVersion(v, k)));
    return values.map((value) => (value === undefined ? undefined : output(value, options.valueEncoding)));
  }

  async _has(key: Bytes): Promise<boolean> {
    const v = this.engine.version();
    return (await getFromVersion(v, key)) !== undefined;
  }

  async _hasMany(keys: Bytes[]): Promise<boolean[]> {
    const v = this.engine.version();
    return (await Promise.all(keys.map((k) => getFromVersion(v, k)))).map((x) => x !== undefined);
  }

  private sync(options: SyncOption | undefined): boolean {
    return options?.sync ?? this.defaultSync;
  }

  async _put(key: Bytes, value: Bytes, options: SyncOption): Promise<void> {
    await this.engine.write([{ type: 'put', key: copy(key), value: copy(value) }], this.sync(options));
  }

  async _del(key: Bytes, options: SyncOption): Promise<void> {
    await this.engine.write([{ type: 'del', key: copy(key) }], this.sync(options));
  }

  async _batch(
    operations: ({ type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes })[],
    options: SyncOption,
  ): Promise<void> {
    // One copy per region of memory: the event log hands the global key a record and the stream
    // key its body, a view of the same bytes; copied as one, the WAL stores the body once (a
    // put-slice op, docs/design/0005).
    const regions = new Map<ArrayBufferLike, CopiedRegion[]>();
    const batch: WalBatch = operations.map((op, index) => {
      if (op.type === 'del') return { type: 'del', key: copy(op.key) };
      const v = op.value;
      const within = v.byteLength > 0 ? findContaining(regions, v) : undefined;
      if (within) return { type: 'put', key: copy(op.key), value: within.copy.subarray(v.byteOffset - within.start, v.byteOffset - within.start + v.byteLength) };
      const value = copy(v);
      if (v.byteLength > 0) addRegion(regions, { index, start: v.byteOffset, end: v.byteOffset + v.byteLength, copy: value }, v.buffer);
      return { type: 'put', key: copy(op.key), value };
    });
    await this.engine.write(batch, this.sync(options));
  }

  async _clear(options: LevelRangeOptions & SyncOption & { limit: number; reverse: boolean }): Promise<void> {
    const range = rangeFromOptions(options);
    if (options.limit === -1) {
      // A range tombstone: compaction drops the covered data from the bucket.
      await this.engine.write([{ type: 'range-del', range }], this.sync(options));
      return;
    }
    const v = this.engine.version();
    const scan = new MergedScan(v, { range, reverse: options.reverse });
    await scan.start();
    const batch: WalBatch = [];
    while (batch.length < options.limit) {
      const e = await scan.next();
      if (!e) break;
      batch.push({ type: 'del', key: copy(e[0]) });
    }
    if (batch.length > 0) await this.engine.write(batch, this.sync(options));
  }

  _iterator(options: AbstractIteratorOptions<K, V> & LevelRangeOptions): S3Iterator<K, V> {
    return new S3Iterator(this, this.engine, options);
  }
}

/** A value `_batch` copied, and the caller's memory it was copied from. */
interface CopiedRegion {
  index: number;
  start: number;
  end: number;
  copy: Buffer;
}

function copy(b: Bytes): Buffer {
  return Buffer.from(b);
}

function output(b: Uint8Array, encoding: string): Bytes {
  const c = Buffer.from(b);
  return encoding === 'view' ? new Uint8Array(c.buffer, c.byteOffset, c.byteLength) : c;
}

interface IteratorOptions {
  reverse: boolean;
  keys: boolean;
  values: boolean;
  keyEncoding: string;
  valueEncoding: string;
}

/** Iterator over a snapshot taken when it was created. */
class S3Iterator<K, V> extends AbstractIterator<S3Level<K, V>, K, V> {
  private readonly version: Version;
  private readonly scan: MergedScan;
  private positioned: Promise<void> | undefined;
  private readonly o: IteratorOptions;
  private released = false;

  constructor(db: S3Level<K, V>, engine: Engine, options: AbstractIteratorOptions<K, V> & LevelRangeOptions) {
    super(db, options);
    this.o = options as unknown as IteratorOptions;
    this.version = engine.version();
    engine.pin(this.version);
    this.engineRef = engine;
    this.scan = new MergedScan(this.version, { range: rangeFromOptions(options), reverse: this.o.reverse });
  }

  private readonly engineRef: Engine;

  private async entry(): Promise<[Bytes | undefined, Bytes | undefined] | undefined> {
    this.positioned ??= this.scan.start();
    await this.positioned;
    const e = await this.scan.next();
    if (!e) return undefined;
    return [
      this.o.keys ? output(e[0], this.o.keyEncoding) : undefined,
      this.o.values ? output(e[1] as Uint8Array, this.o.valueEncoding) : undefined,
    ];
  }

  async _next(): Promise<[Bytes | undefined, Bytes | undefined] | undefined> {
    return this.entry();
  }

  async _nextv(size: number): Promise<[Bytes | undefined, Bytes | undefined][]> {
    const out: [Bytes | undefined, Bytes | undefined][] = [];
    while (out.length < size) {
      const e = await this.entry();
      if (!e) break;
      out.push(e);
    }
    return out;
  }

  async _all(): Promise<[Bytes | undefined, Bytes | undefined][]> {
    const out: [Bytes | undefined, Bytes | undefined][] = [];
    const limit = this.limit - this.count;
    while (out.length < limit) {
      const e = await this.entry();
      if (!e) break;
      out.push(e);
    }
    return out;
  }

  _seek(target: Bytes): void {
    const previous = this.positioned ?? Promise.resolve();
    this.positioned = previous.catch(() => undefined).then(() => this.scan.seek(Buffer.from(target)));
  }

  async _close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.engineRef.unpin(this.version);
  }
}
