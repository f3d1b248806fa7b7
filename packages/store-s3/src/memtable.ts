/**
 * The memtable: recent writes in a persistent red-black tree, so a snapshot (for an iterator or
 * a `get`) is just the current root, taken synchronously and never copied.
 *
 * @module
 */
import createRBTree, { type RBTree } from 'functional-red-black-tree';
import { compareBytes } from './bytes.js';
import type { KeyRange } from './range.js';
import { afterStart, beforeEnd } from './range.js';
import type { WalBatch } from './wal/format.js';

/** Point entries: a value, or `null` for a tombstone. */
export type MemTree = RBTree<Uint8Array, Uint8Array | null>;

/** An immutable view of a memtable. */
export interface MemSnapshot {
  tree: MemTree;
  /** Range tombstones; they hide older layers only (covered keys of this table were removed). */
  rangeTombstones: readonly KeyRange[];
}

/** A mutable memtable. */
export class Memtable {
  private tree: MemTree = createRBTree<Uint8Array, Uint8Array | null>(compareBytes);
  private rangeTombstones: readonly KeyRange[] = [];
  /** Approximate bytes held (keys, values, overhead). */
  bytes = 0;
  /** Replay restarts after this WAL slot once the table is in L0 (0 until the table's WAL slots are durable). */
  lastWalId = 0;

  /** Entries, tombstones included. */
  get size(): number {
    return this.tree.length;
  }

  /** True when it holds nothing at all. */
  get isEmpty(): boolean {
    return this.tree.length === 0 && this.rangeTombstones.length === 0;
  }

  /** The current state, for reads. */
  snapshot(): MemSnapshot {
    return { tree: this.tree, rangeTombstones: this.rangeTombstones };
  }

  /** Applies one atomic batch, in order. */
  apply(batch: WalBatch): void {
    for (const op of batch) {
      if (op.type === 'put') this.set(op.key, op.value);
      else if (op.type === 'del') this.set(op.key, null);
      else this.deleteRange(op.range);
    }
  }

  private set(key: Uint8Array, value: Uint8Array | null): void {
    const it = this.tree.find(key);
    if (it.valid) {
      this.bytes += (value?.byteLength ?? 0) - (it.value?.byteLength ?? 0);
      this.tree = it.update(value);
    } else {
      this.bytes += key.byteLength + (value?.byteLength ?? 0) + 64;
      this.tree = this.tree.insert(key, value);
    }
  }

  private deleteRange(range: KeyRange): void {
    const doomed: Uint8Array[] = [];
    const it = range.start === undefined ? this.tree.begin : range.startInclusive ? this.tree.ge(range.start) : this.tree.gt(range.start);
    while (it.valid && beforeEnd(range, it.key)) {
      if (afterStart(range, it.key)) doomed.push(it.key);
      it.next();
    }
    for (const k of doomed) {
      const old = this.tree.get(k);
      this.bytes -= k.byteLength + (old?.byteLength ?? 0) + 64;
      this.tree = this.tree.remove(k);
    }
    this.rangeTombstones = [...this.rangeTombstones, range];
    this.bytes += 64 + (range.start?.byteLength ?? 0) + (range.end?.byteLength ?? 0);
  }
}
