/**
 * A map that remembers the most recently set keys, between `limit / 2` and `limit` of them, with
 * O(1) set, get and delete. Two generations: once the newer one holds `limit / 2` keys it becomes
 * the older one and the oldest generation is dropped whole. (Evicting the single oldest key of
 * one `Map` with `keys().next()` walks past every entry deleted since the map's last rehash:
 * tens of thousands of steps per insert once it is full.) Used for the consumer group's affinity,
 * docs/design/0011, "Assignment".
 *
 * @module
 */

/** A bounded map of recent entries (see the module). */
export class RecentMap<K, V> {
  private newer = new Map<K, V>();
  private older = new Map<K, V>();
  private readonly generation: number;

  /** @param limit most keys held (at least 2). */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 2) throw new TypeError('RecentMap needs a limit of at least 2.');
    this.generation = Math.floor(limit / 2);
  }

  /** The value of `key`, if it is still remembered. */
  get(key: K): V | undefined {
    return this.newer.get(key) ?? this.older.get(key);
  }

  /** Remembers `key` as the most recent. */
  set(key: K, value: V): void {
    this.older.delete(key);
    this.newer.set(key, value);
    if (this.newer.size >= this.generation) {
      this.older = this.newer;
      this.newer = new Map();
    }
  }

  /** Forgets `key`. */
  delete(key: K): void {
    this.newer.delete(key);
    this.older.delete(key);
  }

  /** Keys remembered. */
  get size(): number {
    return this.newer.size + this.older.size;
  }
}
