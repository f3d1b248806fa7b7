/**
 * Reads an SST through ranged GETs: the tail (footer, index, bloom, range tombstones) once, then
 * single blocks for point reads or runs of blocks for scans, through the shared block cache.
 *
 * @module
 */
import type { BlockCache } from '../block-cache.js';
import { compareBytes } from '../bytes.js';
import { CorruptionError } from '@strand/core';
import type { KeyRange } from '../range.js';
import { BloomFilter } from './bloom.js';
import type { BlockHandle, DecodedBlock, Footer } from './format.js';
import {
  FOOTER_SIZE,
  decodeBlockFrame,
  decodeDataBlock,
  decodeFooter,
  decodeIndex,
  decodeRangeTombstones,
} from './format.js';

/** Fetches bytes `[start, end)` of one table object. */
export type RangeSource = (start: number, end: number) => Promise<Uint8Array>;

/** How much of the tail to fetch on open, hoping the metadata fits (one GET). */
const TAIL_GUESS = 64 * 1024;

/** Result of a point lookup in one table. */
export type TableLookup = { found: false } | { found: true; value: Uint8Array | null };

/** An open table: metadata in memory, blocks fetched on demand. */
export class SstReader {
  private readonly inflight = new Map<number, Promise<DecodedBlock>>();

  private constructor(
    /** Table id (unique name), the block cache key prefix. */
    readonly id: string,
    readonly footer: Footer,
    /** One handle per data block, in key order. */
    readonly handles: BlockHandle[],
    private readonly bloom: BloomFilter,
    /** Range tombstones: they hide keys of older tables only. */
    readonly rangeTombstones: KeyRange[],
    private readonly source: RangeSource,
    private readonly cache: BlockCache,
  ) {}

  /** Reads the table's metadata (usually one ranged GET of its tail). */
  static async open(id: string, size: number, source: RangeSource, cache: BlockCache): Promise<SstReader> {
    if (size < FOOTER_SIZE) throw new CorruptionError(`SST ${id}: ${size} bytes is too small`);
    const tailStart = Math.max(0, size - TAIL_GUESS);
    let tail = await source(tailStart, size);
    if (tail.byteLength !== size - tailStart) throw new CorruptionError(`SST ${id}: short read of tail`);
    const footer = decodeFooter(tail.subarray(tail.byteLength - FOOTER_SIZE), `SST ${id}`);
    const metaStart = footer.rangeDelOffset;
    let base = tailStart;
    if (metaStart < tailStart) {
      tail = await source(metaStart, size);
      base = metaStart;
    }
    const part = (offset: number, len: number, what: string): Uint8Array => {
      if (offset < base || offset + len > size - FOOTER_SIZE) throw new CorruptionError(`SST ${id}: bad ${what} handle`);
      return decodeBlockFrame(tail.subarray(offset - base, offset - base + len), `SST ${id} ${what}`);
    };
    const handles = decodeIndex(part(footer.indexOffset, footer.indexSize, 'index'), `SST ${id} index`);
    const bloom = BloomFilter.decode(part(footer.bloomOffset, footer.bloomSize, 'bloom'), `SST ${id} bloom`);
    const rangeTombstones = decodeRangeTombstones(
      part(footer.rangeDelOffset, footer.rangeDelSize, 'range tombstones'),
      `SST ${id} range tombstones`,
    );
    return new SstReader(id, footer, handles, bloom, rangeTombstones, source, cache);
  }

  /** False when the key is certainly not a point entry of this table. */
  mayContain(key: Uint8Array): boolean {
    return this.bloom.mayContain(key);
  }

  /** Index of the first block whose last key is >= key (`handles.length` when none). */
  blockFor(key: Uint8Array): number {
    let lo = 0;
    let hi = this.handles.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.handles[mid] as BlockHandle).lastKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Point lookup: bloom filter, index, one block. */
  async get(key: Uint8Array): Promise<TableLookup> {
    if (!this.bloom.mayContain(key)) return { found: false };
    const i = this.blockFor(key);
    if (i >= this.handles.length) return { found: false };
    const block = await this.block(i);
    const j = lowerBound(block.keys, key);
    const k = block.keys[j];
    if (k !== undefined && compareBytes(k, key) === 0) return { found: true, value: block.values[j] ?? null };
    return { found: false };
  }

  /**
   * Block `i`, from the cache or the store. With `readaheadBytes`, a miss fetches a run of
   * following (or, `backward`, preceding) uncached blocks in the same GET: one request per
   * ~`readaheadBytes` of a scan.
   */
  async block(i: number, readaheadBytes = 0, backward = false): Promise<DecodedBlock> {
    const cached = this.cache.get(`${this.id}#${i}`);
    if (cached) return cached;
    const pending = this.inflight.get(i);
    if (pending) return pending;
    let first = i;
    let last = i;
    let bytes = (this.handles[i] as BlockHandle).size;
    const free = (j: number): boolean =>
      j >= 0 && j < this.handles.length && !this.inflight.has(j) && !this.cache.has(`${this.id}#${j}`);
    while (readaheadBytes > 0 && bytes < readaheadBytes) {
      const next = backward ? first - 1 : last + 1;
      if (!free(next)) break;
      bytes += (this.handles[next] as BlockHandle).size;
      if (backward) first = next;
      else last = next;
    }
    const fetch = this.fetchRun(first, last);
    for (let j = first; j <= last; j++) {
      const p = fetch.then((blocks) => blocks[j - first] as DecodedBlock);
      this.inflight.set(j, p);
      // Other waiters observe the rejection; this one keeps an unhandled one from surfacing.
      p.catch(() => undefined);
    }
    try {
      const blocks = await fetch;
      return blocks[i - first] as DecodedBlock;
    } finally {
      for (let j = first; j <= last; j++) this.inflight.delete(j);
    }
  }

  private async fetchRun(first: number, last: number): Promise<DecodedBlock[]> {
    const start = (this.handles[first] as BlockHandle).offset;
    const lastHandle = this.handles[last] as BlockHandle;
    const end = lastHandle.offset + lastHandle.size;
    const bytes = await this.source(start, end);
    if (bytes.byteLength !== end - start) throw new CorruptionError(`SST ${this.id}: short read of blocks`);
    const out: DecodedBlock[] = [];
    for (let j = first; j <= last; j++) {
      const h = this.handles[j] as BlockHandle;
      const what = `SST ${this.id} block ${j}`;
      const block = decodeDataBlock(decodeBlockFrame(bytes.subarray(h.offset - start, h.offset - start + h.size), what), what);
      this.cache.set(`${this.id}#${j}`, block);
      out.push(block);
    }
    return out;
  }
}

/** First index whose key is >= `key` (`keys.length` when none). */
export function lowerBound(keys: Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(keys[mid] as Uint8Array, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
