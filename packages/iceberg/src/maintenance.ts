/**
 * Table maintenance: expiring old snapshots (and deleting the files only they referenced),
 * removing orphan files (left by crashed or superseded writers), and compacting small data files
 * and many manifests into few. Every change is a metadata commit like an append, so it races
 * safely with exporters; a compaction keeps the snapshot's `strand.position`, so exporters
 * retry their appends on top of it. Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '@strand/core';
import { encodeColumns, partitionPath, type WrittenDataFile } from './datafile.js';
import { IcebergCommitConflictError } from './errors.js';
import { openTableIO, relativeOf, type TableIO, uriOf } from './io.js';
import { readColumns, readManifest, type ResolvedEntry, rewriteTable } from './rewrite.js';
import { IcebergTable, type Snapshot, withoutSnapshots } from './table.js';

export async function openTable(table: string | TableIO | IcebergTable): Promise<IcebergTable> {
  if (table instanceof IcebergTable) {
    await table.refresh();
    return table;
  }
  const io = typeof table === 'string' ? await openTableIO(table) : table;
  const t = await IcebergTable.load(io);
  if (!t) throw new InvalidArgumentError(`No Iceberg table at ${io.location}.`);
  return t;
}

function checkAge(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0 (ms); got ${String(v)}.`);
}

/** Options of {@link expireSnapshots}. */
export interface ExpireOptions {
  /** Expire snapshots older than this (ms; default 5 days, the reference implementation's `history.expire.max-snapshot-age-ms`). */
  olderThanMs?: number;
  /** Always keep at least this many of the newest snapshots (default 1; the current one is always kept). */
  retainLast?: number;
  /** Clock. */
  now?: () => number;
}

/** What {@link expireSnapshots} did. */
export interface ExpireResult {
  expired: number;
  kept: number;
  /** Files deleted because only expired snapshots referenced them (manifest lists, manifests, data files). */
  deletedFiles: number;
}

/**
 * Removes old snapshots from the table metadata (commit), then deletes the manifest lists,
 * manifests and data files no kept snapshot references.
 */
export async function expireSnapshots(location: string | TableIO | IcebergTable, options: ExpireOptions = {}): Promise<ExpireResult> {
  const olderThanMs = options.olderThanMs ?? 5 * 86_400_000;
  const retainLast = options.retainLast ?? 1;
  checkAge('olderThanMs', olderThanMs);
  if (!Number.isSafeInteger(retainLast) || retainLast < 1) throw new InvalidArgumentError(`retainLast must be an integer >= 1; got ${String(retainLast)}.`);
  const now = options.now ?? Date.now;
  const table = await openTable(location);
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = table.metadata;
    const cutoff = now() - olderThanMs;
    const newest = [...base.snapshots].sort((a, b) => b['sequence-number'] - a['sequence-number']).slice(0, retainLast);
    const keep = new Set([...newest.map((s) => s['snapshot-id']), ...Object.values(base.refs).map((r) => r['snapshot-id'])]);
    for (const s of base.snapshots) if (s['timestamp-ms'] >= cutoff) keep.add(s['snapshot-id']);
    const expired = base.snapshots.filter((s) => !keep.has(s['snapshot-id']));
    if (expired.length === 0) return { expired: 0, kept: base.snapshots.length, deletedFiles: 0 };
    const next = withoutSnapshots(base, keep);
    const kept = next.snapshots;
    if (!(await table.tryCommit(next, now()))) {
      await table.refresh();
      continue;
    }
    const reachable = await referencedFiles(table, kept, false);
    const candidates = await referencedFiles(table, expired, true);
    let deletedFiles = 0;
    for (const uri of candidates) {
      if (reachable.has(uri)) continue;
      const rel = relativeOf(table.io, uri);
      if (rel === undefined) continue;
      await table.io.delete(rel);
      deletedFiles++;
    }
    return { expired: expired.length, kept: kept.length, deletedFiles };
  }
  throw new IcebergCommitConflictError(table.io.location, 20);
}

/** URIs of the manifest lists, manifests and data files of snapshots (data files: live only, unless `all`). */
async function referencedFiles(table: IcebergTable, snapshots: readonly Snapshot[], all: boolean): Promise<Set<string>> {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const s of snapshots) {
    out.add(s['manifest-list']);
    for (const mf of await table.manifestList(s)) {
      out.add(mf.manifest_path);
      if (seen.has(mf.manifest_path)) continue;
      seen.add(mf.manifest_path);
      for (const e of await readManifest(table, mf)) if (all || e.status !== 2) out.add(e.data_file.file_path);
    }
  }
  return out;
}

/** Options of {@link removeOrphanFiles}. */
export interface OrphanOptions {
  /**
   * Only delete unreferenced files older than this (ms; default 1 day): a writer's data files are
   * unreferenced until its commit, so a short age can delete files of a commit in flight.
   */
  olderThanMs?: number;
  /** Clock. */
  now?: () => number;
}

/** Deletes files under `data/` and `metadata/` that no metadata, snapshot or manifest references. */
export async function removeOrphanFiles(location: string | TableIO | IcebergTable, options: OrphanOptions = {}): Promise<{ deleted: string[] }> {
  const olderThanMs = options.olderThanMs ?? 86_400_000;
  checkAge('olderThanMs', olderThanMs);
  const now = options.now ?? Date.now;
  const table = await openTable(location);
  const m = table.metadata;
  const keep = await referencedFiles(table, m.snapshots, true);
  keep.add(uriOf(table.io, `metadata/v${table.version}.metadata.json`));
  keep.add(uriOf(table.io, 'metadata/version-hint.text'));
  for (const e of m['metadata-log']) keep.add(e['metadata-file']);
  const cutoff = now() - olderThanMs;
  const deleted: string[] = [];
  for (const f of [...(await table.io.list('data/')), ...(await table.io.list('metadata/'))]) {
    if (keep.has(uriOf(table.io, f.path)) || f.lastModified > cutoff) continue;
    // Newer metadata versions than the one just read are another writer's commits.
    const v = /^metadata\/v(\d+)\.metadata\.json$/.exec(f.path);
    if (v && Number(v[1]) > table.version) continue;
    await table.io.delete(f.path);
    deleted.push(f.path);
  }
  return { deleted };
}

/** Options of {@link compactTable}. */
export interface CompactOptions {
  /** Data files with fewer rows are small and get merged, up to this many rows per file (default 1,000,000). */
  targetRows?: number;
  /** Clock. */
  now?: () => number;
}

/** What {@link compactTable} did. */
export interface CompactResult {
  /** Small data files replaced, and the files written in their place. */
  rewrittenFiles: number;
  addedFiles: number;
  /** Manifests before and after (all live files end up in one manifest). */
  manifestsBefore: number;
  manifestsAfter: number;
  /** The `replace` snapshot committed, if anything changed. */
  snapshotId: number | undefined;
}

/**
 * Rewrites small data files of each partition into files of up to `targetRows` rows, and all live
 * files into one manifest, as a `replace` snapshot (same rows, same `strand.position`). Retries
 * from scratch when another writer commits in between.
 */
export async function compactTable(location: string | TableIO | IcebergTable, options: CompactOptions = {}): Promise<CompactResult> {
  const targetRows = options.targetRows ?? 1_000_000;
  if (!Number.isSafeInteger(targetRows) || targetRows < 1) throw new InvalidArgumentError(`targetRows must be an integer >= 1; got ${String(targetRows)}.`);
  const table = await openTable(location);
  const r = await rewriteTable(table, 'replace', options.now ?? Date.now, async ({ live, spec, schema, manifests }) => {
    const groups = new Map<string, ResolvedEntry[]>();
    for (const e of live) {
      if (e.data_file.record_count >= targetRows) continue;
      const key = partitionPath(spec, e.data_file.partition);
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const replaced: ResolvedEntry[] = [];
    const written: WrittenDataFile[] = [];
    for (const [dir, entries] of groups) {
      if (entries.length < 2) continue;
      // Merge in position order, so every output file covers a contiguous run of the log.
      const parts = await Promise.all(entries.map((e) => readColumns(table, e.data_file, schema)));
      const order = parts.map((p) => ({ p, first: Number((p.values.get(3)?.[0] as bigint | undefined) ?? 0) })).sort((a, b) => a.first - b.first);
      const merged = new Map<number, unknown[]>();
      let n = 0;
      for (const { p } of order) {
        for (const f of schema.fields) {
          const col = merged.get(f.id) ?? [];
          const src = p.values.get(f.id);
          for (let i = 0; i < p.n; i++) col.push(src ? src[i] : null);
          merged.set(f.id, col);
        }
        n += p.n;
      }
      replaced.push(...entries);
      for (let i = 0; i < n; i += targetRows) {
        const slice = new Map([...merged].map(([id, col]) => [id, col.slice(i, i + targetRows)]));
        written.push(encodeColumns(schema, slice, Math.min(targetRows, n - i), entries[0]!.data_file.partition, `data/${dir}/compacted-${randomUUID()}.parquet`));
      }
    }
    return replaced.length === 0 && manifests <= 1 ? undefined : { replaced, written };
  });
  return { rewrittenFiles: r?.replaced ?? 0, addedFiles: r?.added ?? 0, manifestsBefore: r?.manifestsBefore ?? 0, manifestsAfter: r === undefined ? 0 : 1, snapshotId: r?.snapshotId };
}

/** What {@link deleteStreams} did. */
export interface DeleteStreamsResult {
  /** Rows removed from the table. */
  deletedRows: number;
  /** Data files rewritten without those rows (or dropped when nothing else was in them). */
  rewrittenFiles: number;
  /** The `overwrite` snapshot committed, if any row matched. */
  snapshotId: number | undefined;
}

/**
 * Removes every row of the given streams from the table's current snapshot (copy-on-write: each
 * data file holding such rows is rewritten without them, as an `overwrite` snapshot that keeps
 * `strand.position`). Older snapshots still reference the old files until
 * {@link expireSnapshots} and {@link removeOrphanFiles} delete them: run both to erase the data
 * physically, e.g. after crypto-shredding an entity or deleting its stream.
 */
export async function deleteStreams(location: string | TableIO | IcebergTable, streams: readonly string[], options: { now?: () => number } = {}): Promise<DeleteStreamsResult> {
  if (!Array.isArray(streams) || !streams.every((s) => typeof s === 'string')) throw new InvalidArgumentError('deleteStreams needs an array of stream names.');
  const gone = new Set(streams);
  const table = await openTable(location);
  let deletedRows = 0;
  const r = await rewriteTable(table, 'overwrite', options.now ?? Date.now, async ({ live, schema }) => {
    deletedRows = 0;
    const replaced: ResolvedEntry[] = [];
    const written: WrittenDataFile[] = [];
    for (const e of live) {
      const { values, n } = await readColumns(table, e.data_file, schema);
      const stream = values.get(1) as string[];
      const keep: number[] = [];
      for (let i = 0; i < n; i++) if (!gone.has(stream[i]!)) keep.push(i);
      if (keep.length === n) continue;
      replaced.push(e);
      deletedRows += n - keep.length;
      if (keep.length === 0) continue;
      const kept = new Map([...values].map(([id, col]) => [id, keep.map((i) => col[i])]));
      const dir = e.data_file.file_path.slice(0, e.data_file.file_path.lastIndexOf('/'));
      const rel = relativeOf(table.io, dir) ?? 'data';
      written.push(encodeColumns(schema, kept, keep.length, e.data_file.partition, `${rel}/rewritten-${randomUUID()}.parquet`));
    }
    return replaced.length === 0 ? undefined : { replaced, written, summary: { 'deleted-records': String(deletedRows) } };
  });
  return { deletedRows: r === undefined ? 0 : deletedRows, rewrittenFiles: r?.replaced ?? 0, snapshotId: r?.snapshotId };
}
