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
import { type FieldSummary, type ManifestEntry, type ManifestFile, MANIFEST_FILE_SCHEMA, manifestEntrySchema, type PartitionSpec, type PartitionValues, writeAvro } from './avro.js';
import { DAY_MS, encodeDataFile, partitionOf, partitionPath, type WrittenDataFile } from './datafile.js';
import { IcebergCommitConflictError } from './errors.js';
import { uriOf } from './io.js';
import { evolveSchema, type IcebergSchema, nameMapping, type PayloadColumn } from './schema.js';
import { currentSchema, currentSnapshot, exportedPosition, type IcebergTable, newSnapshotId, SUMMARY_POSITION, type Snapshot, type TableMetadata } from './table.js';

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
    const list = [mine, ...previous];
    const listUri = await writeManifestList(table, snapshotId, parent?.['snapshot-id'], seq, list, attempt);
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
      'manifests-created': '1',
      'manifests-kept': String(previous.length),
      'engine-name': 'strand',
      [SUMMARY_POSITION]: String(o.upTo),
    };
    const now = o.now();
    const next = nextMetadata(base, { id: snapshotId, manifestList: listUri, schema, lastColumnId, summary, now });
    if (await table.tryCommit(next, now)) return { committed: true, snapshotId, files: written.length, rows: addedRows, position: o.upTo };
    await table.io.delete(listUri.slice(table.io.location.length + 1));
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
