/**
 * The built-in read-model store: JSON documents in named collections, kept in sublevels of the
 * log's own store, so read-model updates and the projection's checkpoint commit in one atomic
 * batch.
 *
 * @module
 */
import { type EventStore, InvalidArgumentError, type Sublevel } from '@strand/core';
import type { IndexDefinition } from './projection.js';

/** What a handler uses to read and write its read model. */
export interface ReadModelTx {
  /** Reads a document (seeing this transaction's own writes). */
  get<T = unknown>(collection: string, key: string): Promise<T | undefined>;
  /** Writes a document. */
  put(collection: string, key: string, doc: unknown): void;
  /** Deletes a document. */
  del(collection: string, key: string): void;
  /**
   * Read-modify-write of one document, atomic with respect to every other handler of this
   * projection (handlers of different streams run concurrently, so `get` then `put` across an
   * `await` could lose an update on a shared key; `update` cannot). The key stays locked until
   * the event's handler finishes; update several keys in a consistent order.
   */
  update<T = unknown>(collection: string, key: string, fn: (doc: T | undefined) => T | undefined): Promise<void>;
}

/** Read access to a projection's current read model. */
export interface ReadModelView {
  /** Reads a document. */
  get<T = unknown>(collection: string, key: string): Promise<T | undefined>;
  /** Lists documents of a collection, optionally with a key prefix, in key order. */
  list<T = unknown>(collection: string, options?: { prefix?: string; limit?: number }): Promise<Array<{ key: string; doc: T }>>;
  /** Documents whose index value is `value` (a secondary index declared on the projection), in key order. */
  query<T = unknown>(index: string, value: string, options?: { limit?: number }): Promise<Array<{ key: string; doc: T }>>;
}

/** The reserved collection that holds an index: `_ix-<index>`, keys `<value>\u0000<document key>`. */
export function indexCollection(index: string): string {
  return `_ix-${index}`;
}

function indexValues(ix: IndexDefinition, doc: unknown): string[] {
  if (doc === undefined || doc === null) return [];
  const v = ix.key(doc as never);
  if (v === undefined) return [];
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  return [...new Set(list.filter((x): x is string => typeof x === 'string' && !x.includes('\u0000')))];
}

/**
 * The index writes that turn `before` into `after` for one document: delete the entries of values
 * it no longer has, put the new ones (docs/design/0012-workflows.md, typed projections).
 */
export function indexChanges(indexes: Readonly<Record<string, IndexDefinition>>, collection: string, key: string, before: unknown, after: unknown): Array<{ collection: string; key: string; put: boolean }> {
  const out: Array<{ collection: string; key: string; put: boolean }> = [];
  for (const [name, ix] of Object.entries(indexes)) {
    if (ix.collection !== collection) continue;
    const old = indexValues(ix, before);
    const now = indexValues(ix, after);
    for (const v of old) if (!now.includes(v)) out.push({ collection: indexCollection(name), key: `${v}\u0000${key}`, put: false });
    for (const v of now) if (!old.includes(v)) out.push({ collection: indexCollection(name), key: `${v}\u0000${key}`, put: true });
  }
  return out;
}

const DELETED = Symbol('deleted');

/** Names the sublevel of one collection of one generation of a projection. */
export function collectionName(projection: string, generation: number, collection: string): string {
  return `rm-${projection}-g${generation}-${collection}`;
}

/** Collections of one projection generation, opened lazily. */
export class Collections {
  private readonly open = new Map<string, Sublevel>();

  constructor(
    private readonly log: EventStore,
    private readonly projection: string,
    readonly generation: number,
    /** Secondary indexes declared on the projection. */
    readonly indexes: Readonly<Record<string, IndexDefinition>> = {},
  ) {}

  /** True if some index covers this collection. */
  indexed(collection: string): boolean {
    return Object.values(this.indexes).some((ix) => ix.collection === collection);
  }

  /**
   * Index writes for a drained batch: reads each indexed document as it is in the store (the
   * batch is not written yet) and adds the entries to remove and to add, for the same batch.
   */
  async indexOps(ops: ReadonlyArray<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel: Sublevel }>): Promise<Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel: Sublevel }>> {
    const out: Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel: Sublevel }> = [];
    if (Object.keys(this.indexes).length === 0) return out;
    const byDb = new Map([...this.open].map(([name, db]) => [db, name]));
    for (const op of ops) {
      const collection = byDb.get(op.sublevel);
      if (collection === undefined || !this.indexed(collection)) continue;
      const before = await op.sublevel.get(op.key);
      for (const c of indexChanges(this.indexes, collection, op.key, before, op.type === 'put' ? op.value : undefined)) {
        out.push(c.put ? { type: 'put', key: c.key, value: 1, sublevel: this.db(c.collection) } : { type: 'del', key: c.key, sublevel: this.db(c.collection) });
      }
    }
    return out;
  }

  /** The sublevel of a collection. */
  db(collection: string): Sublevel {
    let db = this.open.get(collection);
    if (db === undefined) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(collection)) throw new TypeError(`collection names are 1-32 letters, digits, '-' or '_'; got ${collection}`);
      db = this.log.sublevel(collectionName(this.projection, this.generation, collection));
      this.open.set(collection, db);
    }
    return db;
  }

  /** Every collection opened so far. */
  all(): Sublevel[] {
    return [...this.open.values()];
  }

  /** Names of the collections opened so far. */
  names(): string[] {
    return [...this.open.keys()];
  }

  /** A read view. */
  view(): ReadModelView {
    return {
      get: async <T>(collection: string, key: string) => (await this.db(collection).get(key)) as T | undefined,
      list: async <T>(collection: string, options: { prefix?: string; limit?: number } = {}) => {
        const range = options.prefix ? { gte: options.prefix, lt: `${options.prefix}\uffff` } : {};
        const out: Array<{ key: string; doc: T }> = [];
        for await (const [key, doc] of this.db(collection).iterator({ ...range, limit: options.limit ?? -1 })) out.push({ key: key as string, doc: doc as T });
        return out;
      },
      query: async <T>(index: string, value: string, options: { limit?: number } = {}) => {
        const ix = Object.hasOwn(this.indexes, index) ? this.indexes[index] : undefined;
        if (ix === undefined) throw new InvalidArgumentError(`Projection ${this.projection} declares no index ${index}.`);
        if (typeof value !== 'string') throw new InvalidArgumentError('An index value is a string.');
        const keys: string[] = [];
        for await (const k of this.db(indexCollection(index)).keys({ gte: `${value}\u0000`, lt: `${value}\u0001`, limit: options.limit ?? -1 })) keys.push((k as string).slice(value.length + 1));
        const docs = keys.length === 0 ? [] : await this.db(ix.collection).getMany(keys);
        return keys.flatMap((key, i) => (docs[i] === undefined ? [] : [{ key, doc: docs[i] as T }]));
      },
    };
  }
}

/** Marks "not in this layer" (a buffered value may be anything, undefined and null included). */
const MISSING: unique symbol = Symbol('missing');

/** The value of `key` in one layer of buffered writes (DELETED for a buffered delete), or MISSING. */
function layerGet(layer: Map<Sublevel, Map<string, unknown>> | undefined, db: Sublevel, key: string): unknown {
  const m = layer?.get(db);
  return m?.has(key) ? m.get(key) : MISSING;
}

/** Buffered writes of many events, committed as one batch with the checkpoint. */
export class WriteBuffer {
  private pending = new Map<Sublevel, Map<string, unknown>>();
  /** Drained into a batch that is being written: still visible to reads until it lands. */
  private flushing = new Map<Sublevel, Map<string, unknown>>();
  /** Keys held by a transaction, each with the transactions waiting for it, in order. */
  private readonly locks = new Map<string, Array<() => void>>();

  constructor(private readonly collections: Collections) {}

  private read(db: Sublevel, key: string, local: Map<Sublevel, Map<string, unknown>> | undefined): unknown {
    let hit = layerGet(local, db, key);
    if (hit === MISSING) hit = layerGet(this.pending, db, key);
    if (hit === MISSING) hit = layerGet(this.flushing, db, key);
    if (hit === MISSING) return db.get(key);
    return hit === DELETED ? undefined : hit;
  }

  /**
   * Takes the key, or queues for it. An uncontended key (the common case: one event of a stream
   * in flight) costs a map entry, no promise.
   */
  private lock(id: string): Promise<void> | undefined {
    const waiting = this.locks.get(id);
    if (waiting === undefined) {
      this.locks.set(id, []);
      return undefined;
    }
    return new Promise<void>((resolve) => waiting.push(resolve));
  }

  /** Hands the key to the next waiter, or frees it. */
  private unlock(id: string): void {
    const next = this.locks.get(id)?.shift();
    if (next !== undefined) next();
    else this.locks.delete(id);
  }

  /**
   * A transaction for one event. Its writes join the shared buffer only on `commit()`,
   * so a failed (retried or parked) handler leaves nothing behind.
   */
  tx(): ReadModelTx & { commit(): void; abort(): void } {
    const local = new Map<Sublevel, Map<string, unknown>>();
    const held = new Set<string>();
    const write = (collection: string, key: string, value: unknown) => {
      const db = this.collections.db(collection);
      let m = local.get(db);
      if (m === undefined) local.set(db, (m = new Map()));
      m.set(key, value);
    };
    return {
      get: async <T>(collection: string, key: string) => (await this.read(this.collections.db(collection), key, local)) as T | undefined,
      put: (collection, key, doc) => write(collection, key, doc),
      del: (collection, key) => write(collection, key, DELETED),
      update: async <T>(collection: string, key: string, fn: (doc: T | undefined) => T | undefined) => {
        const db = this.collections.db(collection);
        const id = `${db.prefix}\u0000${key}`;
        if (!held.has(id)) {
          // Hold the key until this event commits or aborts, so concurrent handlers serialise on
          // it and a failed attempt's update is dropped with the rest of its writes.
          held.add(id);
          const turn = this.lock(id);
          if (turn !== undefined) await turn;
        }
        const doc = fn((await this.read(db, key, local)) as T | undefined);
        write(collection, key, doc === undefined ? DELETED : doc);
      },
      abort: () => {
        for (const id of held) this.unlock(id);
        held.clear();
      },
      commit: () => {
        for (const [db, m] of local) {
          let shared = this.pending.get(db);
          if (shared === undefined) this.pending.set(db, (shared = new Map()));
          for (const [k, v] of m) shared.set(k, v);
        }
        for (const id of held) this.unlock(id);
        held.clear();
      },
    };
  }

  /** True when nothing is buffered. */
  get empty(): boolean {
    return this.pending.size === 0;
  }

  /**
   * Batch operations of everything buffered. The writes stay readable until {@link WriteBuffer.landed}
   * is called after the batch is written.
   */
  drain(): Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel: Sublevel }> {
    const ops: Array<{ type: 'put' | 'del'; key: string; value?: unknown; sublevel: Sublevel }> = [];
    for (const [db, m] of this.pending) {
      for (const [key, value] of m) ops.push(value === DELETED ? { type: 'del', key, sublevel: db } : { type: 'put', key, value, sublevel: db });
    }
    this.flushing = this.pending;
    this.pending = new Map();
    return ops;
  }

  /** The drained batch is in the store: reads go there now. */
  landed(): void {
    this.flushing = new Map();
  }
}
