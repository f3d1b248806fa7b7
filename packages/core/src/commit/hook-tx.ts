/**
 * The write set of one group commit: event records, stream heads and commit-hook writes, with an
 * overlay so later appends of the same group read what earlier ones wrote.
 *
 * @module
 */
import type { CommitTx, Sublevel } from '../plugins.js';

/** An abstract-level batch operation, possibly aimed at a sublevel. */
export interface BatchOp {
  type: 'put' | 'del';
  key: unknown;
  value?: unknown;
  sublevel?: Sublevel;
  keyEncoding?: unknown;
  valueEncoding?: unknown;
}

const DELETED = Symbol('deleted');

/**
 * Collects the writes of one append's commit hooks. Writes land in `ops` and in the group's overlay
 * only when the append is accepted ({@link HookTx.merge}); a failed hook leaves no trace.
 */
export class HookTx implements CommitTx {
  private readonly local = new Map<string, unknown>();
  private readonly ops: BatchOp[] = [];

  constructor(private readonly overlay: Map<string, unknown>) {}

  private static id(db: Sublevel, key: string): string {
    return `${db.prefix}\u0000${key}`;
  }

  async get(db: Sublevel, key: string): Promise<unknown> {
    const id = HookTx.id(db, key);
    const own = this.local.has(id) ? this.local.get(id) : this.overlay.get(id);
    if (own === DELETED) return undefined;
    if (own !== undefined) return own;
    return db.get(key);
  }

  put(db: Sublevel, key: string, value: unknown): void {
    this.local.set(HookTx.id(db, key), value);
    // The group's batch runs with 'view' encodings; each op names its sublevel's own encodings so
    // abstract-level does not apply the batch-wide ones to it.
    this.ops.push({ type: 'put', key, value, sublevel: db, keyEncoding: db.keyEncoding(), valueEncoding: db.valueEncoding() });
  }

  del(db: Sublevel, key: string): void {
    this.local.set(HookTx.id(db, key), DELETED);
    this.ops.push({ type: 'del', key, sublevel: db, keyEncoding: db.keyEncoding() });
  }

  /** Publishes this append's hook writes to the group. */
  merge(into: BatchOp[]): void {
    for (const [k, v] of this.local) this.overlay.set(k, v);
    for (const op of this.ops) into.push(op);
  }
}
