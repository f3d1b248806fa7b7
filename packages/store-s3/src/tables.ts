/**
 * Open tables: a handle per SST that opens its reader lazily (one GET of the tail) and counts the
 * iterators that pin it, so garbage collection in this process never deletes a table in use.
 *
 * @module
 */
import { keyOf } from './manifest/format.js';
import type { TableMeta } from './manifest/format.js';
import type { RangeSource } from './sst/reader.js';
import { SstReader } from './sst/reader.js';
import type { BlockCache } from './block-cache.js';

/** Object key of a table. */
export function sstKey(prefix: string, id: string): string {
  return `${prefix}sst/${id}.sst`;
}

/** Table id of an SST object key, or undefined for a foreign key. */
export function sstIdOf(prefix: string, key: string): string | undefined {
  const m = /^sst\/([0-9a-z-]+)\.sst$/.exec(key.slice(prefix.length));
  return m ? m[1] : undefined;
}

/** One SST as the read path sees it. */
export class TableHandle {
  /** Smallest and largest point key, undefined when the table has none. */
  readonly minKey: Buffer | undefined;
  readonly maxKey: Buffer | undefined;
  /** Iterators and snapshots using this table now. */
  pins = 0;
  private opening: Promise<SstReader> | undefined;

  constructor(
    readonly meta: TableMeta,
    private readonly source: RangeSource,
    private readonly cache: BlockCache,
  ) {
    this.minKey = meta.min === undefined ? undefined : keyOf(meta.min);
    this.maxKey = meta.max === undefined ? undefined : keyOf(meta.max);
  }

  /** The table's reader, opened on first use. A failed open is retried on the next call. */
  reader(): Promise<SstReader> {
    if (!this.opening) {
      this.opening = SstReader.open(this.meta.id, this.meta.size, this.source, this.cache);
      this.opening.catch(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }
}
