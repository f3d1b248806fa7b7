/**
 * The append commit: data files of a batch of events, one manifest listing them, a manifest list
 * (the previous snapshot's manifests plus the new one: a fast append), and the next metadata with
 * the new snapshot, whose summary records the last log position the table now holds. The
 * position makes the export exactly-once: a batch is committed only on top of the position it
 * was read after, so a batch another exporter already committed is dropped, never added twice.
 * Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '@strand/core';
import { type FieldSummary, type ManifestEntry, type ManifestFile, MANIFEST_FILE_SCHEMA, manifestEntrySchema, type PartitionSpec, type PartitionValues, readAvro, writeAvro } from './avro.js';
import { DAY_MS, encodeDataFile, partitionOf, partitionPath, type WrittenDataFile } from './datafile.js';
import { IcebergCommitConflictError } from './errors.js';
import { relativeOf, uriOf } from './io.js';
import { evolveSchema, type IcebergSchema, nameMapping, type PayloadColumn } from './schema.js';
import { currentSchema, currentSnapshot, exportedPosition, type IcebergTable, newSnapshotId, SUMMARY_POSITION, type Snapshot, snapshotsOverRetention, type TableMetadata, withoutSnapshots } from './table.js';

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

/** Table property: merge manifests on append (the reference implementation's `commit.manifest-merge.enabled`, default true). */
export const MERGE_ENABLED = 'commit.manifest-merge.enabled';
/** Table property: merge once a snapshot would list more manifests than this (`commit.manifest.min-count-to-merge`, default 100). */
export const MERGE_MIN_COUNT = 'commit.manifest.min-count-to-merge';
/** Table property: manifests at least this large are left alone, and merged ones are at most about this large (`commit.manifest.target-size-bytes`, default 8 MiB). */
export const MERGE_TARGET_BYTES = 'commit.manifest.target-size-bytes';

/** The merge settings of a table, from its properties (the reference implementation's defaults otherwise). */
export function mergeSettings(properties: Record<string, string>): { enabled: boolean; minCount: number; targetBytes: number } {
  const int = (k: string, d: number) => {
    const v = Number(properties[k]);
    return Number.isSafeInteger(v) && v >= 1 ? v : d;
  };
  return { enabled: properties[MERGE_ENABLED] !== 'false', minCount: int(MERGE_MIN_COUNT, 100), targetBytes: int(MERGE_TARGET_BYTES, 8 * 1024 * 1024) };
}

/** A manifest list after merging, the manifests written for it, and how many it replaced. */
export interface MergedList {
  list: ManifestFile[];
  /** Paths (relative to the table) of the merged manifests this commit wrote. */
  written: string[];
  /** Manifests of the previous list (or the new one) that merged manifests replaced. */
  replaced: number;
}

/**
 * The spec's manifest merge (what the reference implementation's merging append does): when a
 * list would hold more than `minCount` manifests, the data manifests of the current spec that
 * are smaller than `targetBytes` are rewritten, in list order, into manifests of about
 * `targetBytes`: entries this snapshot added stay ADDED, live entries of earlier snapshots become
 * EXISTING with their sequence numbers written out, and DELETED entries (already applied by the
 * snapshot that deleted them) are dropped. So a table's manifest list, and the work of a commit,
 * stays bounded however many appends it has seen; the merge itself costs a read and rewrite of
 * the small manifests once every `minCount` commits.
 */
export async function mergeManifests(
  table: IcebergTable,
  list: readonly ManifestFile[],
  o: { snapshotId: number; sequenceNumber: number; schema: IcebergSchema; spec: PartitionSpec; minCount: number; targetBytes: number },
): Promise<MergedList> {
  if (list.length <= o.minCount) return { list: [...list], written: [], replaced: 0 };
  const small = (mf: ManifestFile) => mf.content === 0 && mf.partition_spec_id === o.spec['spec-id'] && mf.manifest_length < o.targetBytes;
  const bins: ManifestFile[][] = [];
  let bin: ManifestFile[] = [];
  let size = 0;
  for (const mf of list.filter(small)) {
    if (bin.length > 0 && size + mf.manifest_length > o.targetBytes) {
      bins.push(bin);
      bin = [];
      size = 0;
    }
    bin.push(mf);
    size += mf.manifest_length;
  }
  if (bin.length > 0) bins.push(bin);
  const merging = bins.filter((b) => b.length > 1);
  if (merging.length === 0) return { list: [...list], written: [], replaced: 0 };
  const replacedBy = new Map<ManifestFile, ManifestFile | undefined>();
  const written: string[] = [];
  for (const b of merging) {
    const entries: ResolvedEntry[] = [];
    for (const mf of b) for (const e of await readManifest(table, mf)) if (e.status !== 2) entries.push(e);
    const out: ManifestEntry[] = entries.map((e) =>
      e.snapshot_id === o.snapshotId && e.status === 1 ? { ...e, sequence_number: null, file_sequence_number: null } : { ...e, status: 0 as const },
    );
    const m = await writeManifest(table, o.schema, o.spec, out);
    written.push(m.path);
    const added = out.filter((e) => e.status === 1);
    const existing = out.filter((e) => e.status === 0);
    const merged: ManifestFile = {
      manifest_path: uriOf(table.io, m.path),
      manifest_length: m.length,
      partition_spec_id: o.spec['spec-id'],
      content: 0,
      sequence_number: o.sequenceNumber,
      min_sequence_number: Math.min(o.sequenceNumber, ...existing.map((e) => e.sequence_number ?? o.sequenceNumber)),
      added_snapshot_id: o.snapshotId,
      added_files_count: added.length,
      existing_files_count: existing.length,
      deleted_files_count: 0,
      added_rows_count: added.reduce((a, e) => a + e.data_file.record_count, 0),
      existing_rows_count: existing.reduce((a, e) => a + e.data_file.record_count, 0),
      deleted_rows_count: 0,
      partitions: fieldSummaries(
        o.spec,
        out.map((e) => e.data_file.partition),
      ),
      key_metadata: null,
    };
    b.forEach((mf, i) => replacedBy.set(mf, i === 0 ? merged : undefined));
  }
  // Each merged manifest takes the place of the first manifest of its bin, so the order holds.
  const next: ManifestFile[] = [];
  for (const mf of list) {
    if (!replacedBy.has(mf)) next.push(mf);
    else {
      const m = replacedBy.get(mf);
      if (m) next.push(m);
    }
  }
  return { list: next, written, replaced: replacedBy.size };
}

/** What an append commit did. */
export type AppendOutcome =
  | { committed: true; snapshotId: number; files: number; rows: number; position: number }
  | { committed: false; position: number };

/** The day bound of a partition field as the spec's single-value serialisation. */
function partitionBound(spec: PartitionSpec, name: string, v: number | string): Buffer {
  const field = spec.fields.find((f) => f.name === name)!;
  if (field.transform === 'day') {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v as number);
    return b;
  }
  return Buffer.from(String(v), 'utf8');
}

/** Per partition field: whether any value is null and the lowest and highest value. */
export function fieldSummaries(spec: PartitionSpec, partitions: readonly PartitionValues[]): FieldSummary[] {
  return spec.fields.map((f) => {
    const values = partitions.map((p) => p[f.name]).filter((v): v is number | string => v !== null && v !== undefined);
    const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      contains_null: values.length < partitions.length,
      contains_nan: false,
      lower_bound: sorted.length ? partitionBound(spec, f.name, sorted[0]!) : null,
      upper_bound: sorted.length ? partitionBound(spec, f.name, sorted.at(-1)!) : null,
    };
  });
}

/** Writes a manifest (Avro) of `entries`; returns its path relative to the table. */
export async function writeManifest(table: IcebergTable, schema: IcebergSchema, spec: PartitionSpec, entries: readonly ManifestEntry[]): Promise<{ path: string; length: number }> {
  const bytes = await writeAvro(manifestEntrySchema(spec, schema), entries, {
    schema: JSON.stringify(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(spec['spec-id']),
    'format-version': '2',
    content: 'data',
  });
  const path = `metadata/${randomUUID()}-m0.avro`;
  await table.io.write(path, bytes);
  return { path, length: bytes.byteLength };
}

/** Writes a manifest list (Avro) for a snapshot; returns its absolute URI. */
export async function writeManifestList(table: IcebergTable, snapshotId: number, parentId: number | undefined, sequenceNumber: number, list: readonly ManifestFile[], attempt: number): Promise<string> {
  const bytes = await writeAvro(MANIFEST_FILE_SCHEMA, list, {
    'snapshot-id': String(snapshotId),
    'parent-snapshot-id': parentId === undefined ? 'null' : String(parentId),
    'sequence-number': String(sequenceNumber),
    'format-version': '2',
  });
  const path = `metadata/snap-${snapshotId}-${attempt}-${randomUUID()}.avro`;
  await table.io.write(path, bytes);
  const uri = uriOf(table.io, path);
  table.rememberManifestList(uri, [...list]);
  return uri;
}

const num = (s: Record<string, string> | undefined, k: string) => Number(s?.[k] ?? 0);

/** The snapshot that follows `base` with the given manifest list (summary totals carried forward). */
export function nextMetadata(
  base: TableMetadata,
  snapshot: { id: number; manifestList: string; schema: IcebergSchema; lastColumnId: number; summary: Snapshot['summary']; now: number },
): TableMetadata {
  const seq = base['last-sequence-number'] + 1;
  const parent = currentSnapshot(base);
  const schemas = base.schemas.some((s) => s['schema-id'] === snapshot.schema['schema-id']) ? base.schemas : [...base.schemas, snapshot.schema];
  const snap: Snapshot = {
    'snapshot-id': snapshot.id,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': seq,
    'timestamp-ms': snapshot.now,
    'manifest-list': snapshot.manifestList,
    summary: snapshot.summary,
    'schema-id': snapshot.schema['schema-id'],
  };
  return {
    ...base,
    'last-sequence-number': seq,
    'last-column-id': Math.max(base['last-column-id'], snapshot.lastColumnId),
    schemas,
    'current-schema-id': snapshot.schema['schema-id'],
    properties: { ...base.properties, 'schema.name-mapping.default': nameMapping(snapshot.schema) },
    'current-snapshot-id': snapshot.id,
    snapshots: [...base.snapshots, snap],
    'snapshot-log': [...base['snapshot-log'], { 'snapshot-id': snapshot.id, 'timestamp-ms': snapshot.now }],
    refs: { ...base.refs, main: { 'snapshot-id': snapshot.id, type: 'branch' } },
  };
}

/** Options of {@link appendBatch}. */
export interface AppendBatchOptions {
  /** Payload columns the table must hold (from the registry's current schemas). */
  columns: readonly PayloadColumn[];
  /** The table position the batch was read after (its events are in `(after, upTo]`). */
  after: number;
  /** The last log position the batch covers (scanned, whether or not an event matched). */
  upTo: number;
  /** Rows per data file at most. */
  rowsPerFile: number;
  /** Commit attempts before giving up (default 20). */
  maxRetries?: number;
  /**
   * Keep at most this many snapshots: the commit drops the oldest ones from the metadata and
   * deletes their manifest lists (default: keep all, until {@link expireSnapshots} runs).
   */
  retainSnapshots?: number;
  /** Clock. */
  now: () => number;
}

/**
 * Commits `rows` (events in log order from `(after, upTo]`) as one append snapshot. When the
 * table's position is no longer `after` (another exporter committed), nothing is written and the
 * table's position is returned, so the caller re-reads from there.
 */
export async function appendBatch(table: IcebergTable, rows: readonly RecordedEvent[], o: AppendBatchOptions): Promise<AppendOutcome> {
  await table.refresh();
  let base = table.metadata;
  if (exportedPosition(base) !== o.after) return { committed: false, position: exportedPosition(base) };
  const spec = base['partition-specs'].find((s) => s['spec-id'] === base['default-spec-id'])!;
  const evolved = evolveSchema(base.location, currentSchema(base), base['last-column-id'], Math.max(...base.schemas.map((s) => s['schema-id'])) + 1, o.columns);
  const baseSchemaId = currentSchema(base)['schema-id'];
  const schema = evolved?.schema ?? currentSchema(base);
  const lastColumnId = evolved?.lastColumnId ?? base['last-column-id'];
  const snapshotId = newSnapshotId(base.snapshots);

  // Data files: one per partition and chunk of rowsPerFile rows, named uniquely so racing writers never collide.
  const byType = spec.fields.some((f) => f.transform === 'identity');
  const groups = new Map<number | string, { partition: PartitionValues; rows: RecordedEvent[] }>();
  for (const e of rows) {
    const day = Math.floor(e.timestamp / DAY_MS);
    const key = byType ? `${day}/${e.type}` : day;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { partition: partitionOf(spec, e), rows: [] }));
    g.rows.push(e);
  }
  const written: WrittenDataFile[] = [];
  let k = 0;
  for (const g of groups.values()) {
    const dir = partitionPath(spec, g.partition);
    for (let i = 0; i < g.rows.length; i += o.rowsPerFile) {
      const chunk = g.rows.slice(i, i + o.rowsPerFile);
      const name = `data/${dir}/${String(chunk[0]!.position).padStart(12, '0')}-${String(k++).padStart(5, '0')}-${randomUUID()}.parquet`;
      written.push(encodeDataFile(chunk, schema, o.columns, g.partition, name));
    }
  }
  await Promise.all(written.map((w) => table.io.write(w.path, w.bytes)));
  const entries: ManifestEntry[] = written.map((w) => ({
    status: 1,
    snapshot_id: snapshotId,
    sequence_number: null,
    file_sequence_number: null,
    data_file: { ...w.dataFile, file_path: uriOf(table.io, w.path) },
  }));
  const manifest = await writeManifest(table, schema, spec, entries);
  const addedRows = rows.length;
  const addedSize = written.reduce((a, w) => a + w.bytes.byteLength, 0);
  const cleanup = async () => {
    await Promise.all([...written.map((w) => table.io.delete(w.path)), table.io.delete(manifest.path)]);
  };
  const merge = mergeSettings(base.properties);

  const maxRetries = o.maxRetries ?? 20;
  for (let attempt = 0; attempt < maxRetries; attempt++) {
    const parent = currentSnapshot(base);
    const seq = base['last-sequence-number'] + 1;
    const previous = await table.manifestList(parent);
    const mine: ManifestFile = {
      manifest_path: uriOf(table.io, manifest.path),
      manifest_length: manifest.length,
      partition_spec_id: spec['spec-id'],
      content: 0,
      sequence_number: seq,
      min_sequence_number: seq,
      added_snapshot_id: snapshotId,
      added_files_count: written.length,
      existing_files_count: 0,
      deleted_files_count: 0,
      added_rows_count: addedRows,
      existing_rows_count: 0,
      deleted_rows_count: 0,
      partitions: fieldSummaries(
        spec,
        written.map((w) => w.dataFile.partition),
      ),
      key_metadata: null,
    };
    const merged = merge.enabled ? await mergeManifests(table, [mine, ...previous], { snapshotId, sequenceNumber: seq, schema, spec, minCount: merge.minCount, targetBytes: merge.targetBytes }) : { list: [mine, ...previous], written: [], replaced: 0 };
    const list = merged.list;
    const listUri = await writeManifestList(table, snapshotId, parent?.['snapshot-id'], seq, list, attempt);
    const ownManifestMerged = !list.includes(mine);
    const ps = parent?.summary;
    const summary: Snapshot['summary'] = {
      operation: 'append',
      'added-data-files': String(written.length),
      'added-records': String(addedRows),
      'added-files-size': String(addedSize),
      'changed-partition-count': String(groups.size),
      'total-data-files': String(num(ps, 'total-data-files') + written.length),
      'total-records': String(num(ps, 'total-records') + addedRows),
      'total-files-size': String(num(ps, 'total-files-size') + addedSize),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      'manifests-created': String((ownManifestMerged ? 0 : 1) + merged.written.length),
      'manifests-kept': String(list.length - (ownManifestMerged ? 0 : 1) - merged.written.length),
      ...(merged.replaced > 0 ? { 'manifests-replaced': String(merged.replaced) } : {}),
      'engine-name': 'strand',
      [SUMMARY_POSITION]: String(o.upTo),
    };
    const now = o.now();
    let next = nextMetadata(base, { id: snapshotId, manifestList: listUri, schema, lastColumnId, summary, now });
    const expired = o.retainSnapshots === undefined ? [] : snapshotsOverRetention(next, o.retainSnapshots);
    if (expired.length > 0) {
      const gone = new Set(expired.map((s) => s['snapshot-id']));
      next = withoutSnapshots(next, new Set(next.snapshots.filter((s) => !gone.has(s['snapshot-id'])).map((s) => s['snapshot-id'])));
    }
    if (await table.tryCommit(next, now)) {
      // A manifest list belongs to its snapshot alone. Manifests and data files that only expired
      // snapshots reach are left to removeOrphanFiles (finding them means reading every kept list).
      for (const s of expired) {
        const rel = relativeOf(table.io, s['manifest-list']);
        if (rel !== undefined) await table.io.delete(rel).catch(() => undefined);
      }
      // Its entries now live in a merged manifest: the manifest written for them alone is unreferenced.
      if (ownManifestMerged) await table.io.delete(manifest.path).catch(() => undefined);
      return { committed: true, snapshotId, files: written.length, rows: addedRows, position: o.upTo };
    }
    await Promise.all([table.io.delete(listUri.slice(table.io.location.length + 1)), ...merged.written.map((p) => table.io.delete(p))]);
    await table.refresh();
    base = table.metadata;
    // Another exporter moved the table on, or changed its schema: this batch is not ours to add.
    if (exportedPosition(base) !== o.after || currentSchema(base)['schema-id'] !== baseSchemaId) {
      await cleanup();
      return { committed: false, position: exportedPosition(base) };
    }
  }
  await cleanup();
  throw new IcebergCommitConflictError(base.location, maxRetries);
}
