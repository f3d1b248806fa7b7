/**
 * Inline projections: the handlers run inside the append's commit, and their writes are part of
 * the same atomic batch as the events. A successful append means the read model is updated; a
 * handler that throws fails that append (nothing is written).
 *
 * @module
 */
import { type CommitTx, type EventLog, InvalidArgumentError } from '@strand/core';
import type { CompiledProjection } from './projection.js';
import { Collections, indexChanges, type ReadModelTx, type ReadModelView } from './read-model.js';

/** Sublevel naming the projections that were attached inline to a log. */
const INLINE_CATALOG = 'inline-projections';

/** True if a projection of this name was ever attached inline to the log (`attachInline`). */
export async function isInlineProjection(log: EventLog, name: string): Promise<boolean> {
  return (await log.sublevel(INLINE_CATALOG).get(name)) !== undefined;
}

/** An attached inline projection. */
export interface InlineProjection {
  /** Read access to its read model. */
  view(): ReadModelView;
  /** Detaches it: later appends no longer update the read model. */
  detach(): void;
}

function adapt(collections: Collections, tx: CommitTx): ReadModelTx & { flushIndexes(): Promise<void> } {
  // Indexed documents: the value before this append's first write (read before that write), and
  // the last value written; their index entries change once, in the same commit.
  const touched = new Map<string, { collection: string; key: string; before: Promise<unknown>; after: unknown }>();
  const track = (collection: string, key: string, after: unknown) => {
    if (!collections.indexed(collection)) return;
    const id = `${collection}\u0000${key}`;
    const t = touched.get(id);
    if (t) t.after = after;
    else touched.set(id, { collection, key, before: tx.get(collections.db(collection), key), after });
  };
  const put = (collection: string, key: string, doc: unknown) => {
    track(collection, key, doc);
    tx.put(collections.db(collection), key, doc);
  };
  const del = (collection: string, key: string) => {
    track(collection, key, undefined);
    tx.del(collections.db(collection), key);
  };
  return {
    get: async <T>(collection: string, key: string) => (await tx.get(collections.db(collection), key)) as T | undefined,
    put,
    del,
    // Commit hooks of one log run one at a time, so read-modify-write is already atomic here.
    update: async <T>(collection: string, key: string, fn: (doc: T | undefined) => T | undefined) => {
      const doc = fn((await tx.get(collections.db(collection), key)) as T | undefined);
      if (doc === undefined) del(collection, key);
      else put(collection, key, doc);
    },
    async flushIndexes() {
      for (const t of touched.values()) {
        for (const c of indexChanges(collections.indexes, t.collection, t.key, await t.before, t.after)) {
          if (c.put) tx.put(collections.db(c.collection), c.key, 1);
          else tx.del(collections.db(c.collection), c.key);
        }
      }
    },
  };
}

/**
 * Runs a projection inline with every append to `log`.
 *
 * @example
 * ```ts
 * const inline = attachInline(log, balances);
 * await log.append('accounts/eu/1', [{ type: 'Credited', data: { amount: 5 } }]);
 * await inline.view().get('byAccount', 'accounts/eu/1'); // already there
 * ```
 */
export function attachInline(log: EventLog, projection: CompiledProjection): InlineProjection {
  if (projection === null || typeof projection !== 'object' || typeof projection.matches !== 'function') {
    throw new InvalidArgumentError('attachInline needs a projection made with defineProjection().');
  }
  const collections = new Collections(log, `inline-${projection.name}`, 0, projection.indexes);
  // Recorded so tools know this projection runs inline (`strand projections rebuild` refuses it).
  void log
    .sublevel(INLINE_CATALOG)
    .put(projection.name, { name: projection.name, patterns: projection.patterns })
    .catch(() => {});
  const detach = log.addCommitHook({
    name: `inline:${projection.name}`,
    async onCommit(events, tx) {
      const rm = adapt(collections, tx);
      for (const e of events) {
        if (!projection.matches(e.stream)) continue;
        const handler = projection.handlerFor(e.type);
        if (handler) await handler(e, rm);
      }
      await rm.flushIndexes();
    },
  });
  return { view: () => collections.view(), detach };
}
