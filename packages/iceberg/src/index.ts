/**
 * `@strand/iceberg`: Apache Iceberg (format version 2) tables from the Strand log: Parquet data
 * files with field ids, Avro manifests and manifest lists, versioned metadata committed
 * atomically on a file system or S3, continuous exactly-once export, schema evolution from the
 * registry, and table maintenance. Design: docs/design/0009-iceberg.md.
 *
 * @packageDocumentation
 */
export { exportIceberg, IcebergSink } from './export.js';
export type { IcebergCommit, IcebergExportOptions, IcebergExportResult, IcebergSinkOptions, IcebergTableOptions } from './export.js';
export { IcebergCommitConflictError, IcebergCorruptionError, IcebergSchemaError, IcebergTableMismatchError } from './errors.js';
export { FileTableIO, ObjectStoreTableIO, openTableIO } from './io.js';
export type { ObjectStoreLike, TableFile, TableIO } from './io.js';
export { canPromote, ENVELOPE, evolveSchema, payloadColumns } from './schema.js';
export type { IcebergField, IcebergSchema, IcebergType, PayloadColumn } from './schema.js';
export { currentSchema, currentSnapshot, exportedPosition, IcebergTable, SUMMARY_POSITION } from './table.js';
export type { Snapshot, TableMetadata } from './table.js';
export type { DataFile, FieldSummary, ManifestEntry, ManifestFile, PartitionField, PartitionSpec } from './avro.js';
export { compactTable, deleteStreams, expireSnapshots, removeOrphanFiles } from './maintenance.js';
export type { CompactOptions, CompactResult, DeleteStreamsResult, ExpireOptions, ExpireResult, OrphanOptions } from './maintenance.js';
export { liveFiles, readManifest } from './rewrite.js';
export type { ResolvedEntry } from './rewrite.js';
