/**
 * Garbage collection: deletes tables no manifest of the grace period names, WAL objects below the
 * replay point and old manifests, each only once older than the grace period, so readers in
 * other processes (followers, long scans) that loaded an older manifest keep working. Ages are
 * measured on the store's clock (its `Date` header: `serverTime()`), the clock its `lastModified`
 * times come from, never on this machine's (docs/design/0005, "Garbage collection").
 *
 * @module
 */
import type { Manifest } from './manifest/format.js';
import { CorruptionError } from '@strand/core';
import { decodeManifest, manifestVersionOf } from './manifest/format.js';
import type { ObjectInfo, ObjectStore } from './object-store/types.js';
import { sstIdOf } from './tables.js';
import { walIdOf } from './wal/format.js';
import { segmentRangeOf } from './wal/segment.js';

/** What GC needs. */
export interface GcContext {
  store: ObjectStore;
  prefix: string;
  graceMs: number;
  /** This writer's epoch: GC does nothing once a newer writer exists. */
  epoch: number;
  /** Tables pinned by iterators of this process. */
  pinned: ReadonlySet<string>;
}

/** What one GC pass deleted. */
export interface GcResult {
  tables: string[];
  wal: number[];
  /** WAL segments deleted, by their first slot. */
  walSegments: number[];
  manifests: number[];
}

/** One GC pass. */
export async function collectGarbage(ctx: GcContext): Promise<GcResult> {
  const { store, prefix, graceMs } = ctx;
  const result: GcResult = { tables: [], wal: [], walSegments: [], manifests: [] };
  const listedManifests = await store.list(`${prefix}manifest/`);
  const now = serverNow(store, listedManifests);
  const manifests = listedManifests
    .map((o) => ({ ...o, version: manifestVersionOf(prefix, o.key) }))
    .filter((o): o is typeof o & { version: number } => o.version !== undefined)
    .sort((a, b) => a.version - b.version);
  const live = new Set<string>();
  let latest: Manifest | undefined;
  const oldManifests: number[] = [];
  // Newest first: the newest valid manifest is kept whatever its age.
  for (const m of [...manifests].reverse()) {
    if (latest && m.lastModified < now - graceMs) {
      oldManifests.push(m.version);
      continue;
    }
    const bytes = await store.get(m.key);
    if (!bytes) continue;
    let parsed: Manifest;
    try {
      parsed = decodeManifest(bytes, m.key);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      continue; // a void (torn) slot: deleted once older than the grace period
    }
    for (const t of [...parsed.l0, ...parsed.l1]) live.add(t.id);
    latest ??= parsed;
  }
  // A newer writer owns the store: leave its garbage to it.
  if (!latest || latest.epoch > ctx.epoch) return result;

  for (const o of await store.list(`${prefix}sst/`)) {
    const id = sstIdOf(prefix, o.key);
    if (id === undefined || live.has(id) || ctx.pinned.has(id) || o.lastModified >= now - graceMs) continue;
    await store.delete(o.key);
    result.tables.push(id);
  }
  for (const o of await store.list(`${prefix}wal/`)) {
    const id = walIdOf(prefix, o.key);
    if (id === undefined || id >= latest.walReplayFrom || o.lastModified >= now - graceMs) continue;
    await store.delete(o.key);
    result.wal.push(id);
  }
  for (const o of await store.list(`${prefix}walseg/`)) {
    const range = segmentRangeOf(prefix, o.key);
    if (range === undefined || range.last >= latest.walReplayFrom || o.lastModified >= now - graceMs) continue;
    await store.delete(o.key);
    result.walSegments.push(range.first);
  }
  for (const v of oldManifests) {
    await store.delete(manifests.find((m) => m.version === v)?.key as string);
    result.manifests.push(v);
  }
  return result;
}

/**
 * The store's clock now, never ahead of it: its last response's time (an S3 `Date` header, whole
 * seconds) or the newest `lastModified` it listed (no object is modified in the future), whichever
 * is later. So nothing is aged early, and a just-written manifest dates what came before it to the
 * millisecond.
 */
function serverNow(store: ObjectStore, listed: ObjectInfo[]): number {
  let now = store.serverTime?.() ?? 0;
  for (const o of listed) if (o.lastModified > now) now = o.lastModified;
  return now;
}
