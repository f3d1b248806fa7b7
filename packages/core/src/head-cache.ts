/**
 * A bounded LRU of stream heads. The log's single writer keeps it exact for the streams it holds;
 * streams not in it are read from the store, so memory stays bounded with millions of streams.
 *
 * @module
 */
import type { StoredHead } from './codec.js';

/** `null` means "known not to exist". */
export type CachedHead = StoredHead | null;

/** Least-recently-used map of stream name to head, at most `capacity` entries. */
export class HeadCache {
  private readonly map = new Map<string, CachedHead>();

  constructor(private readonly capacity: number) {}

  /** The cached head, `null` if known absent, `undefined` if not cached. */
  get(stream: string): CachedHead | undefined {
    const v = this.map.get(stream);
    if (v === undefined) return undefined;
    // Re-insert to mark as recently used (Map keeps insertion order).
    this.map.delete(stream);
    this.map.set(stream, v);
    return v;
  }

  /** Caches a head. */
  set(stream: string, head: CachedHead): void {
    if (this.capacity <= 0) return;
    this.map.delete(stream);
    this.map.set(stream, head);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  /** Forgets a stream. */
  delete(stream: string): void {
    this.map.delete(stream);
  }

  /** Number of cached heads. */
  get size(): number {
    return this.map.size;
  }
}
