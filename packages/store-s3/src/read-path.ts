/**
 * Reads over a version of the store: layers newest first (memtable, frozen memtables, L0 tables,
 * the L1 run). Point lookups walk the layers; iterators merge one cursor per layer. A layer's
 * range tombstones hide only older layers.
 *
 * @module
 */
import { compareBytes } from './bytes.js';
import type { MemSnapshot } from './memtable.js';
import type { KeyRange } from './range.js';
import { afterStart, beforeEnd, rangeContains, rangeOverlaps } from './range.js';
import type { DecodedBlock } from './sst/format.js';
import { lowerBound } from './sst/reader.js';
import type { SstReader } from './sst/reader.js';
import type { TableHandle } from './tables.js';
import type { RBIterator } from 'functional-red-black-tree';

/** Everything a read needs, captured synchronously (an implicit snapshot). */
export interface Version {
  /** Memtables, newest first (the mutable one first). */
  mems: MemSnapshot[];
  /** L0 tables, newest first. */
  l0: TableHandle[];
  /** The L1 run, in key order. */
  l1: TableHandle[];
}

/** Finds the L1 table that may hold `key`. */
function runTableFor(run: TableHandle[], key: Uint8Array): TableHandle | undefined {
  let lo = 0;
  let hi = run.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = run[mid] as TableHandle;
    if (compareBytes(t.maxKey as Uint8Array, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  const t = run[lo];
  return t && compareBytes(t.minKey as Uint8Array, key) <= 0 ? t : undefined;
}

/** Point lookup over a version: the value, or undefined when absent or deleted. */
export async function getFromVersion(v: Version, key: Uint8Array): Promise<Uint8Array | undefined> {
  for (const m of v.mems) {
    const value = m.tree.get(key);
    if (value !== undefined) return value ?? undefined;
    for (const rt of m.rangeTombstones) if (rangeContains(rt, key)) return undefined;
  }
  for (const t of v.l0) {
    const inBounds =
      t.minKey !== undefined && compareBytes(key, t.minKey) >= 0 && compareBytes(key, t.maxKey as Uint8Array) <= 0;
    if (!inBounds && !t.meta.rangeDeletes) continue;
    const r = await t.reader();
    if (inBounds) {
      const hit = await r.get(key);
      if (hit.found) return hit.value ?? undefined;
    }
    for (const rt of r.rangeTombstones) if (rangeContains(rt, key)) return undefined;
  }
  const t = runTableFor(v.l1, key);
  if (t) {
    const hit = await (await t.reader()).get(key);
    if (hit.found) return hit.value ?? undefined;
  }
  return undefined;
}

/** A position in one layer, moving in one direction. */
export interface Cursor {
  /** Current key, undefined when exhausted. */
  key: Uint8Array | undefined;
  /** Current value, null for a tombstone. */
  value: Uint8Array | null;
  /**
   * Forward: first key >= target (> when not inclusive); reverse: last key <= target (<).
   * An undefined target means the first (last) key.
   */
  seek(target: Uint8Array | undefined, inclusive: boolean): Promise<void>;
  /** Moves on; returns a promise only when it has to fetch. */
  next(): Promise<void> | undefined;
}

class MemCursor implements Cursor {
  key: Uint8Array | undefined;
  value: Uint8Array | null = null;
  private it: RBIterator<Uint8Array, Uint8Array | null> | undefined;

  constructor(
    private readonly snap: MemSnapshot,
    private readonly reverse: boolean,
  ) {}

  async seek(target: Uint8Array | undefined, inclusive: boolean): Promise<void> {
    const t = this.snap.tree;
    if (!this.reverse) this.it = target === undefined ? t.begin : inclusive ? t.ge(target) : t.gt(target);
    else this.it = target === undefined ? t.end : inclusive ? t.le(target) : t.lt(target);
    this.load();
  }

  private load(): void {
    const it = this.it;
    if (it?.valid) {
      this.key = it.key;
      this.value = it.value;
    } else this.key = undefined;
  }

  next(): undefined {
    if (this.reverse) this.it?.prev();
    else this.it?.next();
    this.load();
    return undefined;
  }
}

/** Default scan readahead: one GET per this many bytes of blocks. */
export const SCAN_READAHEAD_BYTES = 1024 * 1024;

/**
 * Readahead of a cursor's first fetch after a seek; each later fetch of the scan doubles it, up
 * to the scan's readahead. Many scans stop after a few keys (the event log's last position, a
 * `limit: 1` look for a sublevel's first key), and a 1 MiB GET for one key is a slow GET on a
 * loaded store; a GET of 64 KiB costs about what one of a single block does.
 */
const FIRST_READAHEAD_BYTES = 64 * 1024;

class SstCursor implements Cursor {
  key: Uint8Array | undefined;
  value: Uint8Array | null = null;
  private blockIdx = 0;
  private block: DecodedBlock | undefined;
  private pos = 0;
  /** Readahead of the next fetch: small after a seek, doubling as the scan goes on. */
  private ramp: number;

  constructor(
    private readonly reader: SstReader,
    private readonly reverse: boolean,
    private readonly readahead: number,
  ) {
    this.ramp = Math.min(readahead, FIRST_READAHEAD_BYTES);
  }

  private async loadBlock(i: number): Promise<boolean> {
    if (i < 0 || i >= this.reader.handles.length) {
      this.block = undefined;
      this.key = undefined;
      return false;
    }
    this.blockIdx = i;
    const ra = this.ramp;
    this.ramp = Math.min(this.readahead, ra * 2);
    this.block = await this.reader.block(i, ra, this.reverse);
    return true;
  }

  private settle(): Promise<void> | undefined {
    const b = this.block;
    if (!b) {
      this.key = undefined;
      return undefined;
    }
    if (this.pos >= 0 && this.pos < b.keys.length) {
      this.key = b.keys[this.pos];
      this.value = b.values[this.pos] ?? null;
      return undefined;
    }
    return this.crossBlock();
  }

  private async crossBlock(): Promise<void> {
    for (;;) {
      const nextIdx = this.reverse ? this.blockIdx - 1 : this.blockIdx + 1;
      if (!(await this.loadBlock(nextIdx))) return;
      const b = this.block as DecodedBlock;
      if (b.keys.length === 0) continue;
      this.pos = this.reverse ? b.keys.length - 1 : 0;
      this.key = b.keys[this.pos];
      this.value = b.values[this.pos] ?? null;
      return;
    }
  }

  async seek(target: Uint8Array | undefined, inclusive: boolean): Promise<void> {
    const n = this.reader.handles.length;
    this.ramp = Math.min(this.readahead, FIRST_READAHEAD_BYTES);
    if (n === 0) {
      this.block = undefined;
      this.key = undefined;
      return;
    }
    if (target === undefined) {
      await this.loadBlock(this.reverse ? n - 1 : 0);
      this.pos = this.reverse ? (this.block as DecodedBlock).keys.length - 1 : 0;
      await this.settle();
      return;
    }
    let i = this.reader.blockFor(target);
    if (i >= n) {
      if (!this.reverse) {
        this.block = undefined;
        this.key = undefined;
        return;
      }
      i = n - 1;
    }
    await this.loadBlock(i);
    const keys = (this.block as DecodedBlock).keys;
    const lb = lowerBound(keys, target);
    const exact = lb < keys.length && compareBytes(keys[lb] as Uint8Array, target) === 0;
    if (!this.reverse) this.pos = exact && !inclusive ? lb + 1 : lb;
    else this.pos = exact && inclusive ? lb : lb - 1;
    await this.settle();
  }

  next(): Promise<void> | undefined {
    this.pos += this.reverse ? -1 : 1;
    return this.settle();
  }
}

class RunCursor implements Cursor {
  key: Uint8Array | undefined;
  value: Uint8Array | null = null;
  private idx = -1;
  private inner: SstCursor | undefined;

  constructor(
    private readonly run: TableHandle[],
    private readonly reverse: boolean,
    private readonly readahead: number,
  ) {}

  private sync(): void {
    this.key = this.inner?.key;
    this.value = this.inner?.value ?? null;
  }

  private async open(i: number, target: Uint8Array | undefined, inclusive: boolean): Promise<void> {
    for (let j = i; j >= 0 && j < this.run.length; j += this.reverse ? -1 : 1) {
      this.idx = j;
      this.inner = new SstCursor(await (this.run[j] as TableHandle).reader(), this.reverse, this.readahead);
      await this.inner.seek(j === i ? target : undefined, inclusive);
      if (this.inner.key !== undefined) {
        this.sync();
        return;
      }
    }
    this.inner = undefined;
    this.sync();
  }

  async seek(target: Uint8Array | undefined, inclusive: boolean): Promise<void> {
    const n = this.run.length;
    if (target === undefined) return this.open(this.reverse ? n - 1 : 0, undefined, inclusive);
    if (!this.reverse) {
      let i = 0;
      while (i < n && compareBytes((this.run[i] as TableHandle).maxKey as Uint8Array, target) < 0) i++;
      return this.open(i, target, inclusive);
    }
    let i = n - 1;
    while (i >= 0 && compareBytes((this.run[i] as TableHandle).minKey as Uint8Array, target) > 0) i--;
    return this.open(i, target, inclusive);
  }

  next(): Promise<void> | undefined {
    const inner = this.inner;
    if (!inner) return undefined;
    const p = inner.next();
    if (p) return p.then(() => this.afterNext());
    return this.afterNext();
  }

  private afterNext(): Promise<void> | undefined {
    if (this.inner?.key !== undefined) {
      this.sync();
      return undefined;
    }
    return this.open(this.idx + (this.reverse ? -1 : 1), undefined, true);
  }
}

interface Source {
  cursor: Cursor;
  /** Range tombstones of this layer: they hide entries of later sources. */
  rangeTombstones: readonly KeyRange[];
}

/** Options of a merged scan. */
export interface ScanOptions {
  range: KeyRange;
  reverse: boolean;
  /** Scan readahead in bytes (default 1 MiB). */
  readaheadBytes?: number;
  /** Keep tombstones (entries with `null` values) instead of skipping them (compaction into L0). */
  keepTombstones?: boolean;
}

/**
 * A merged, snapshot-consistent scan over a version: newest layer wins, tombstones and
 * range-deleted keys are skipped.
 */
export class MergedScan {
  private sources: Source[] = [];
  private ready: Promise<void> | undefined;
  private done = false;

  constructor(
    private readonly version: Version,
    private readonly options: ScanOptions,
  ) {}

  private async init(): Promise<void> {
    const { range, reverse } = this.options;
    const ra = this.options.readaheadBytes ?? SCAN_READAHEAD_BYTES;
    const sources: Source[] = [];
    for (const m of this.version.mems) sources.push({ cursor: new MemCursor(m, reverse), rangeTombstones: m.rangeTombstones });
    for (const t of this.version.l0) {
      const maybe = t.meta.rangeDeletes || (t.minKey !== undefined && rangeOverlaps(range, t.minKey, t.maxKey as Uint8Array));
      if (!maybe) continue;
      const r = await t.reader();
      sources.push({ cursor: new SstCursor(r, reverse, ra), rangeTombstones: r.rangeTombstones });
    }
    const run = this.version.l1.filter((t) => rangeOverlaps(range, t.minKey as Uint8Array, t.maxKey as Uint8Array));
    if (run.length > 0) sources.push({ cursor: new RunCursor(run, reverse, ra), rangeTombstones: [] });
    this.sources = sources;
  }

  private ensureInit(): Promise<void> {
    if (!this.ready) this.ready = this.init();
    return this.ready;
  }

  /** Positions at the start of the range. */
  async start(): Promise<void> {
    await this.ensureInit();
    const { range, reverse } = this.options;
    const target = reverse ? range.end : range.start;
    const inclusive = reverse ? range.endInclusive : range.startInclusive;
    this.done = false;
    await Promise.all(this.sources.map((s) => s.cursor.seek(target, inclusive)));
  }

  /** Moves to `target` (forward: first key >= target; reverse: last key <= target). */
  async seek(target: Uint8Array): Promise<void> {
    await this.ensureInit();
    const { range, reverse } = this.options;
    // Like memory-level: a target outside the range ends the iterator.
    if (!rangeContains(range, target)) {
      const beforeRange = reverse ? !beforeEnd(range, target) : !afterStart(range, target);
      const afterRange = reverse ? !afterStart(range, target) : !beforeEnd(range, target);
      if (beforeRange || afterRange) {
        this.done = true;
        return;
      }
    }
    this.done = false;
    await Promise.all(this.sources.map((s) => s.cursor.seek(target, true)));
  }

  /** The next live entry, or undefined at the end. */
  async next(): Promise<[Uint8Array, Uint8Array | null] | undefined> {
    if (this.done) return undefined;
    const { range, reverse } = this.options;
    const sources = this.sources;
    const n = sources.length;
    for (;;) {
      let best = -1;
      let bestKey: Uint8Array | undefined;
      for (let i = 0; i < n; i++) {
        const k = (sources[i] as Source).cursor.key;
        if (k === undefined) continue;
        if (bestKey === undefined) {
          best = i;
          bestKey = k;
          continue;
        }
        const c = compareBytes(k, bestKey);
        if (reverse ? c > 0 : c < 0) {
          best = i;
          bestKey = k;
        }
      }
      if (bestKey === undefined) {
        this.done = true;
        return undefined;
      }
      const key = bestKey;
      const value = (sources[best] as Source).cursor.value;
      for (let i = best; i < n; i++) {
        const c = (sources[i] as Source).cursor;
        if (c.key !== undefined && (i === best || compareBytes(c.key, key) === 0)) {
          const p = c.next();
          if (p) await p;
        }
      }
      if (reverse ? !afterStart(range, key) : !beforeEnd(range, key)) {
        this.done = true;
        return undefined;
      }
      if (value === null && !this.options.keepTombstones) continue;
      if (this.hidden(key, best)) continue;
      return [key, value];
    }
  }

  private hidden(key: Uint8Array, layer: number): boolean {
    for (let j = 0; j < layer; j++) {
      for (const rt of (this.sources[j] as Source).rangeTombstones) if (rangeContains(rt, key)) return true;
    }
    return false;
  }
}
