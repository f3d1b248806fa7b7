/**
 * The in-memory block cache: decoded SST blocks, least recently used evicted first, bounded in
 * bytes and shared by every table of an instance.
 *
 * @module
 */
import type { DecodedBlock } from './sst/format.js';

/** Byte-bounded LRU of decoded blocks. */
export class BlockCache {
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the coldest.
  private readonly entries = new Map<string, DecodedBlock>();
  private used = 0;
  /** Hits and misses since creation. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly capacityBytes: number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.used;
  }

  get(key: string): DecodedBlock | undefined {
    const b = this.entries.get(key);
    if (b === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.entries.delete(key);
    this.entries.set(key, b);
    return b;
  }

  /** True when the block is cached (does not touch recency or stats). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, block: DecodedBlock): void {
    if (block.bytes > this.capacityBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.used -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, block);
    this.used += block.bytes;
    for (const [k, v] of this.entries) {
      if (this.used <= this.capacityBytes) break;
      this.entries.delete(k);
      this.used -= v.bytes;
    }
  }

  /** Drops every block of a table (after it was deleted). */
  dropTable(tableId: string): void {
    for (const [k, v] of this.entries) {
      if (k.startsWith(`${tableId}#`)) {
        this.entries.delete(k);
        this.used -= v.bytes;
      }
    }
  }
}
