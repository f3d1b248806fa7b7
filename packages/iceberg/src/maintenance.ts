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
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { fieldSummaries, writeManifest, writeManifestList } from './append.js';
import { type DataFile, type ManifestEntry, type ManifestFile, readAvro } from './avro.js';
import { encodeColumns, partitionPath } from './datafile.js';
import { IcebergCommitConflictError, IcebergTableMismatchError } from './errors.js';
import { openTableIO, relativeOf, type TableIO, uriOf } from './io.js';
import { type IcebergSchema, parquetName } from './schema.js';
import { currentSchema, currentSnapshot, IcebergTable, newSnapshotId, SUMMARY_POSITION, type Snapshot, type TableMetadata } from './table.js';

/** A manifest entry with its sequence numbers resolved (inherited from the manifest list when null). */
export interface ResolvedEntry extends ManifestEntry {
  sequence_number: number;
  file_sequence_number: number;
}

/** Reads a manifest and resolves inherited sequence numbers and snapshot ids. */
export async function readManifest(table: IcebergTable, mf: ManifestFile): Promise<ResolvedEntry[]> {
  const entries = await readAvro<ManifestEntry>(await table.read(mf.manifest_path));
  return entries.map((e) => ({
    ...e,
    snapshot_id: e.snapshot_id ?? mf.added_snapshot_id,
    sequence_number: e.sequence_number ?? mf.sequence_number,
    file_sequence_number: e.file_sequence_number ?? mf.sequence_number,
  }));
}

/** Live data files of a snapshot (entries with status EXISTING or ADDED). */
export async function liveFiles(table: IcebergTable, snapshot: Snapshot | undefined): Promise<ResolvedEntry[]> {
  const out: ResolvedEntry[] = [];
  for (const mf of await table.manifestList(snapshot)) for (const e of await readManifest(table, mf)) if (e.status !== 2) out.push(e);
  return out;
}

async function open(table: string | TableIO | IcebergTable): Promise<IcebergTable> {
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
  const table = await open(location);
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = table.metadata;
    const cutoff = now() - olderThanMs;
    const newest = [...base.snapshots].sort((a, b) => b['sequence-number'] - a['sequence-number']).slice(0, retainLast);
    const keep = new Set([...newest.map((s) => s['snapshot-id']), ...Object.values(base.refs).map((r) => r['snapshot-id'])]);
    for (const s of base.snapshots) if (s['timestamp-ms'] >= cutoff) keep.add(s['snapshot-id']);
    const expired = base.snapshots.filter((s) => !keep.has(s['snapshot-id']));
    if (expired.length === 0) return { expired: 0, kept: base.snapshots.length, deletedFiles: 0 };
    const kept = base.snapshots.filter((s) => keep.has(s['snapshot-id']));
    // The spec: entries of the snapshot log before an expired snapshot go with it.
    const log = base['snapshot-log'];
    let lastExpired = -1;
    log.forEach((e, i) => {
      if (!keep.has(e['snapshot-id'])) lastExpired = i;
    });
    const next: TableMetadata = { ...base, snapshots: kept, 'snapshot-log': log.slice(lastExpired + 1) };
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
  const table = await open(location);
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

/** Reads a data file's columns by field id, converted to the current schema's types. */
async function readColumns(table: IcebergTable, file: DataFile, schema: IcebergSchema): Promise<{ values: Map<number, unknown[]>; n: number }> {
  const bytes = await table.read(file.file_path);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const meta = parquetMetadata(buffer);
  const written = JSON.parse(meta.key_value_metadata?.find((kv) => kv.key === 'iceberg.schema')?.value ?? 'null') as IcebergSchema | null;
  const fileFields = written?.fields ?? schema.fields;
  const rows = (await parquetReadObjects({ file: buffer, metadata: meta })) as Array<Record<string, unknown>>;
  const values = new Map<number, unknown[]>();
  for (const f of schema.fields) {
    const src = fileFields.find((x) => x.id === f.id);
    if (src === undefined) continue;
    const name = parquetName(src.name);
    values.set(
      f.id,
      rows.map((r) => {
        const v = r[name];
        if (v === undefined || v === null) return null;
        if (f.type === 'long') return typeof v === 'bigint' ? v : BigInt(v as number);
        if (f.type === 'timestamptz') return v instanceof Date ? BigInt(v.getTime()) * 1000n : BigInt(v as number);
        if (f.type === 'double' || f.type === 'float' || f.type === 'int') return Number(v);
        return v;
      }),
    );
  }
  return { values, n: rows.length };
}

/**
 * Rewrites small data files of each partition into files of up to `targetRows` rows, and all live
 * files into one manifest, as a `replace` snapshot (same rows, same `strand.position`). Retries
 * from scratch when another writer commits in between.
 */
export async function compactTable(location: string | TableIO | IcebergTable, options: CompactOptions = {}): Promise<CompactResult> {
  const targetRows = options.targetRows ?? 1_000_000;
  if (!Number.isSafeInteger(targetRows) || targetRows < 1) throw new InvalidArgumentError(`targetRows must be an integer >= 1; got ${String(targetRows)}.`);
  const now = options.now ?? Date.now;
  const table = await open(location);
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = table.metadata;
    const parent = currentSnapshot(base);
    const list = await table.manifestList(parent);
    if (parent === undefined) return { rewrittenFiles: 0, addedFiles: 0, manifestsBefore: 0, manifestsAfter: 0, snapshotId: undefined };
    if (list.some((mf) => mf.content !== 0)) throw new IcebergTableMismatchError(table.io.location, 'has delete files (written by another engine); compactTable does not apply them, so compact this table with that engine');
    const spec = base['partition-specs'].find((s) => s['spec-id'] === base['default-spec-id'])!;
    const schema = currentSchema(base);
    const live = await liveFiles(table, parent);
    const groups = new Map<string, ResolvedEntry[]>();
    for (const e of live) {
      if (e.data_file.record_count >= targetRows) continue;
      const key = partitionPath(spec, e.data_file.partition);
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const replaced: ResolvedEntry[] = [];
    const written: Array<ReturnType<typeof encodeColumns>> = [];
    for (const [dir, entries] of groups) {
      if (entries.length < 2) continue;
      // Merge in position order, so every output file covers a contiguous run of the log.
      const parts = await Promise.all(entries.map((e) => readColumns(table, e.data_file, schema)));
      const order = parts.map((p, i) => ({ p, i, first: Number((p.values.get(3)?.[0] as bigint | undefined) ?? 0) })).sort((a, b) => a.first - b.first);
      const merged = new Map<number, unknown[]>();
      let n = 0;
      for (const { p } of order) {
        for (const f of schema.fields) {
          const col = merged.get(f.id) ?? [];
          const src = p.values.get(f.id);
          for (let r = 0; r < p.n; r++) col.push(src ? src[r] : null);
          merged.set(f.id, col);
        }
        n += p.n;
      }
      replaced.push(...entries);
      for (let i = 0; i < n; i += targetRows) {
        const slice = new Map([...merged].map(([id, col]) => [id, col.slice(i, i + targetRows)]));
        const count = Math.min(targetRows, n - i);
        written.push(encodeColumns(schema, slice, count, entries[0]!.data_file.partition, `data/${dir}/compacted-${randomUUID()}.parquet`));
      }
    }
    if (replaced.length === 0 && list.length <= 1) return { rewrittenFiles: 0, addedFiles: 0, manifestsBefore: list.length, manifestsAfter: list.length, snapshotId: undefined };
    await Promise.all(written.map((w) => table.io.write(w.path, w.bytes)));
    const snapshotId = newSnapshotId(base.snapshots);
    const seq = base['last-sequence-number'] + 1;
    const gone = new Set(replaced.map((e) => e.data_file.file_path));
    const entries: ManifestEntry[] = [
      ...live.filter((e) => !gone.has(e.data_file.file_path)).map((e) => ({ ...e, status: 0 as const })),
      ...replaced.map((e) => ({ ...e, status: 2 as const, snapshot_id: snapshotId })),
      ...written.map((w) => ({ status: 1 as const, snapshot_id: snapshotId, sequence_number: null, file_sequence_number: null, data_file: { ...w.dataFile, file_path: uriOf(table.io, w.path) } })),
    ];
    const manifest = await writeManifest(table, schema, spec, entries);
    const liveAfter = entries.filter((e) => e.status !== 2);
    const mf: ManifestFile = {
      manifest_path: uriOf(table.io, manifest.path),
      manifest_length: manifest.length,
      partition_spec_id: spec['spec-id'],
      content: 0,
      sequence_number: seq,
      min_sequence_number: Math.min(seq, ...liveAfter.map((e) => e.sequence_number ?? seq)),
      added_snapshot_id: snapshotId,
      added_files_count: written.length,
      existing_files_count: liveAfter.length - written.length,
      deleted_files_count: replaced.length,
      added_rows_count: written.reduce((a, w) => a + w.dataFile.record_count, 0),
      existing_rows_count: liveAfter.filter((e) => e.status === 0).reduce((a, e) => a + e.data_file.record_count, 0),
      deleted_rows_count: replaced.reduce((a, e) => a + e.data_file.record_count, 0),
      partitions: fieldSummaries(
        spec,
        liveAfter.map((e) => e.data_file.partition),
      ),
      key_metadata: null,
    };
    const listUri = await writeManifestList(table, snapshotId, parent['snapshot-id'], seq, [mf], attempt);
    const addedSize = written.reduce((a, w) => a + w.bytes.byteLength, 0);
    const removedSize = replaced.reduce((a, e) => a + e.data_file.file_size_in_bytes, 0);
    const ps = parent.summary;
    const summary: Snapshot['summary'] = {
      operation: 'replace',
      'added-data-files': String(written.length),
      'deleted-data-files': String(replaced.length),
      'added-records': String(mf.added_rows_count),
      'deleted-records': String(mf.deleted_rows_count),
      'added-files-size': String(addedSize),
      'removed-files-size': String(removedSize),
      'total-data-files': String(liveAfter.length),
      'total-records': String(liveAfter.reduce((a, e) => a + e.data_file.record_count, 0)),
      'total-files-size': String(Number(ps['total-files-size'] ?? 0) + addedSize - removedSize),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      'manifests-created': '1',
      'manifests-replaced': String(list.length),
      'engine-name': 'strand',
      ...(ps[SUMMARY_POSITION] === undefined ? {} : { [SUMMARY_POSITION]: ps[SUMMARY_POSITION] }),
    };
    const t = now();
    const snap: Snapshot = { 'snapshot-id': snapshotId, 'parent-snapshot-id': parent['snapshot-id'], 'sequence-number': seq, 'timestamp-ms': t, 'manifest-list': listUri, summary, 'schema-id': schema['schema-id'] };
    const next: TableMetadata = {
      ...base,
      'last-sequence-number': seq,
      'current-snapshot-id': snapshotId,
      snapshots: [...base.snapshots, snap],
      'snapshot-log': [...base['snapshot-log'], { 'snapshot-id': snapshotId, 'timestamp-ms': t }],
      refs: { ...base.refs, main: { 'snapshot-id': snapshotId, type: 'branch' } },
    };
    if (await table.tryCommit(next, t)) {
      return { rewrittenFiles: replaced.length, addedFiles: written.length, manifestsBefore: list.length, manifestsAfter: 1, snapshotId };
    }
    // Another writer committed first: start over on its metadata (the replaced files may be gone).
    await Promise.all([...written.map((w) => table.io.delete(w.path)), table.io.delete(manifest.path), table.io.delete(relativeOf(table.io, listUri)!)]);
    await table.refresh();
  }
  throw new IcebergCommitConflictError(table.io.location, 20);
}
