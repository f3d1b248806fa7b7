/**
 * Reading a table's files back and rewriting some of them in one commit: what compaction and
 * row deletion share. The new snapshot lists every live file in one manifest: kept files as
 * EXISTING entries (their sequence numbers written out, as the spec requires), replaced files as
 * DELETED, new files as ADDED. Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { fieldSummaries, readManifest, type ResolvedEntry, writeManifest, writeManifestList } from './append.js';
import type { DataFile, ManifestEntry, ManifestFile, PartitionSpec } from './avro.js';
import type { WrittenDataFile } from './datafile.js';
import { IcebergCommitConflictError, IcebergTableMismatchError } from './errors.js';
import { relativeOf, uriOf } from './io.js';
import { type IcebergSchema, parquetName } from './schema.js';
import { currentSchema, currentSnapshot, type IcebergTable, newSnapshotId, SUMMARY_POSITION, type Snapshot, type TableMetadata } from './table.js';

export { readManifest, type ResolvedEntry } from './append.js';

/** Live data files of a snapshot (entries with status EXISTING or ADDED). */
export async function liveFiles(table: IcebergTable, snapshot: Snapshot | undefined): Promise<ResolvedEntry[]> {
  const out: ResolvedEntry[] = [];
  for (const mf of await table.manifestList(snapshot)) for (const e of await readManifest(table, mf)) if (e.status !== 2) out.push(e);
  return out;
}

/** Reads a data file's columns by field id, converted to the given schema's types. */
export async function readColumns(table: IcebergTable, file: DataFile, schema: IcebergSchema): Promise<{ values: Map<number, unknown[]>; n: number }> {
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

/** Files a rewrite replaces and the files written in their place. */
export interface RewritePlan {
  replaced: ResolvedEntry[];
  written: WrittenDataFile[];
  /** Extra snapshot summary fields. */
  summary?: Record<string, string>;
}

/** What a rewrite sees of the table it plans on. */
export interface RewriteContext {
  live: ResolvedEntry[];
  spec: PartitionSpec;
  schema: IcebergSchema;
  /** Manifests of the current snapshot. */
  manifests: number;
}

/**
 * Plans on the current snapshot and commits the rewrite; when another writer commits first, the
 * staged files are deleted and the plan runs again on the new metadata (the files it replaces
 * may be gone). `undefined`: nothing to do.
 */
export async function rewriteTable(
  table: IcebergTable,
  operation: 'replace' | 'overwrite',
  now: () => number,
  plan: (context: RewriteContext) => Promise<RewritePlan | undefined>,
): Promise<{ replaced: number; added: number; manifestsBefore: number; snapshotId: number } | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = table.metadata;
    const parent = currentSnapshot(base);
    if (parent === undefined) return undefined;
    const list = await table.manifestList(parent);
    if (list.some((mf) => mf.content !== 0)) throw new IcebergTableMismatchError(table.io.location, 'has delete files (written by another engine); rewriting its data files would not apply them, so use that engine for this table');
    const spec = base['partition-specs'].find((s) => s['spec-id'] === base['default-spec-id'])!;
    const schema = currentSchema(base);
    const live = await liveFiles(table, parent);
    const p = await plan({ live, spec, schema, manifests: list.length });
    if (p === undefined) return undefined;
    const { replaced, written } = p;
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
    const added = written.reduce((a, w) => a + w.dataFile.record_count, 0);
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
      added_rows_count: added,
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
      operation,
      'added-data-files': String(written.length),
      'deleted-data-files': String(replaced.length),
      'added-records': String(added),
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
      ...p.summary,
      // The table still holds every exported event up to the same log position.
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
    if (await table.tryCommit(next, t)) return { replaced: replaced.length, added: written.length, manifestsBefore: list.length, snapshotId };
    await Promise.all([...written.map((w) => table.io.delete(w.path)), table.io.delete(manifest.path), table.io.delete(relativeOf(table.io, listUri)!)]);
    await table.refresh();
  }
  throw new IcebergCommitConflictError(table.io.location, 20);
}
