/**
 * Writes an SST (format 1, see `format.ts`) from entries given in key order.
 *
 * @module
 */
import { ByteWriter, compareBytes } from '../bytes.js';
import type { KeyRange } from '../range.js';
import { BLOOM_BITS_PER_KEY, BloomFilter } from './bloom.js';
import type { BlockHandle } from './format.js';
import { SST_FORMAT_VERSION, encodeBlock, encodeFooter, encodeIndex, encodeRangeTombstones, writeEntry } from './format.js';

/** Layout choices of a table. */
export interface SstBuildOptions {
  /** Target uncompressed size of a data block (default 4 KiB). */
  blockBytes?: number;
  /** Deflate each block when it saves at least 10% (default false). */
  compress?: boolean;
  /** Bloom filter bits per key (default 10). */
  bloomBitsPerKey?: number;
}

/** What the manifest records about a table. */
export interface SstSummary {
  /** Number of point entries (values and tombstones). */
  entries: number;
  /** Smallest and largest point key, undefined when the table has only range tombstones. */
  minKey: Uint8Array | undefined;
  maxKey: Uint8Array | undefined;
  /** Object size in bytes. */
  size: number;
}

/**
 * Accumulates entries (strictly increasing keys) and range tombstones, then produces the bytes.
 */
export class SstBuilder {
  private readonly blockBytes: number;
  private readonly compress: boolean;
  private readonly bitsPerKey: number;
  private readonly out = new ByteWriter(64 * 1024);
  private block = new ByteWriter(8 * 1024);
  private blockEntries = 0;
  private readonly handles: BlockHandle[] = [];
  private readonly keys: Uint8Array[] = [];
  private lastKey: Uint8Array | undefined;
  private firstKey: Uint8Array | undefined;
  private readonly rangeTombstones: KeyRange[] = [];

  constructor(options: SstBuildOptions = {}) {
    this.blockBytes = options.blockBytes ?? 4096;
    this.compress = options.compress ?? false;
    this.bitsPerKey = options.bloomBitsPerKey ?? BLOOM_BITS_PER_KEY;
  }

  /** Entries added so far. */
  get entryCount(): number {
    return this.keys.length;
  }

  /** Approximate size of the table so far. */
  get estimatedBytes(): number {
    return this.out.length + this.block.length;
  }

  /** Adds a value, or a tombstone when `value` is null. Keys must strictly increase. */
  add(key: Uint8Array, value: Uint8Array | null): void {
    if (this.lastKey !== undefined && compareBytes(key, this.lastKey) <= 0) {
      throw new Error('SstBuilder.add: keys must strictly increase');
    }
    if (this.firstKey === undefined) this.firstKey = key;
    writeEntry(this.block, key, value);
    this.blockEntries++;
    this.keys.push(key);
    this.lastKey = key;
    if (this.block.length >= this.blockBytes) this.cutBlock();
  }

  /** Adds a range tombstone: hides keys of older tables in `range`. */
  addRangeTombstone(range: KeyRange): void {
    this.rangeTombstones.push(range);
  }

  private cutBlock(): void {
    if (this.blockEntries === 0) return;
    const framed = encodeBlock(this.block.finish(), this.compress);
    this.handles.push({
      lastKey: this.lastKey as Uint8Array,
      offset: this.out.length,
      size: framed.length,
      entries: this.blockEntries,
    });
    this.out.bytes(framed);
    this.block = new ByteWriter(this.blockBytes + 1024);
    this.blockEntries = 0;
  }

  /** The table's bytes and summary. The builder must not be used afterwards. */
  finish(): { bytes: Buffer; summary: SstSummary } {
    this.cutBlock();
    const rangeDel = encodeBlock(encodeRangeTombstones(this.rangeTombstones), false);
    const rangeDelOffset = this.out.length;
    this.out.bytes(rangeDel);
    const bloom = encodeBlock(BloomFilter.build(this.keys, this.keys.length, this.bitsPerKey).encode(), false);
    const bloomOffset = this.out.length;
    this.out.bytes(bloom);
    const index = encodeBlock(encodeIndex(this.handles), false);
    const indexOffset = this.out.length;
    this.out.bytes(index);
    let entries = 0;
    for (const h of this.handles) entries += h.entries;
    this.out.bytes(
      encodeFooter({
        indexOffset,
        indexSize: index.length,
        bloomOffset,
        bloomSize: bloom.length,
        rangeDelOffset,
        rangeDelSize: rangeDel.length,
        entries,
        blocks: this.handles.length,
        flags: this.compress ? 1 : 0,
        version: SST_FORMAT_VERSION,
      }),
    );
    const bytes = this.out.finish();
    return {
      bytes,
      summary: { entries, minKey: this.firstKey, maxKey: this.lastKey, size: bytes.length },
    };
  }
}
