/**
 * Manifests and manifest lists: Avro object container files (`avsc`) with the spec's Avro
 * schemas, field ids included (`field-id`, `element-id`; int-keyed maps as arrays of key/value
 * records with logical type `map`), format version 2.
 *
 * @module
 */
import { Readable } from 'node:stream';
import avro from 'avsc';
import type { IcebergSchema } from './schema.js';

/** A partition field of a partition spec. */
export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: 'day' | 'identity';
}

/** A partition spec. */
export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

/** A partition value tuple, by partition field name (day: days since 1970-01-01; identity: the value). */
export type PartitionValues = Record<string, number | string | null>;

/** The `data_file` struct (the fields this exporter writes). */
export interface DataFile {
  content: 0;
  file_path: string;
  file_format: 'parquet';
  partition: PartitionValues;
  record_count: number;
  file_size_in_bytes: number;
  value_counts: Array<{ key: number; value: number }> | null;
  null_value_counts: Array<{ key: number; value: number }> | null;
  lower_bounds: Array<{ key: number; value: Buffer }> | null;
  upper_bounds: Array<{ key: number; value: Buffer }> | null;
  split_offsets: number[] | null;
  sort_order_id: number | null;
}

/** The `manifest_entry` struct. */
export interface ManifestEntry {
  /** 0 existing, 1 added, 2 deleted. */
  status: 0 | 1 | 2;
  snapshot_id: number | null;
  sequence_number: number | null;
  file_sequence_number: number | null;
  data_file: DataFile;
}

/** A partition field summary of a manifest. */
export interface FieldSummary {
  contains_null: boolean;
  contains_nan: boolean | null;
  lower_bound: Buffer | null;
  upper_bound: Buffer | null;
}

/** The `manifest_file` struct (one entry of a manifest list). */
export interface ManifestFile {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content: 0 | 1;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: number;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
  partitions: FieldSummary[] | null;
  key_metadata: Buffer | null;
}

const opt = (type: unknown) => ['null', type];
const intMap = (keyId: number, valueId: number, value: string) => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name: `k${keyId}_v${valueId}`,
    fields: [
      { name: 'key', type: 'int', 'field-id': keyId },
      { name: 'value', type: value, 'field-id': valueId },
    ],
  },
});

/** The Avro type of a partition field's value. */
function partitionAvroType(field: PartitionField, schema: IcebergSchema): unknown {
  if (field.transform === 'day') return { type: 'int', logicalType: 'date' };
  const source = schema.fields.find((f) => f.id === field['source-id']);
  switch (source?.type) {
    case 'int':
      return 'int';
    case 'long':
      return 'long';
    case 'boolean':
      return 'boolean';
    default:
      return 'string';
  }
}

/** The Avro schema of a manifest written with `spec` (the `partition` struct depends on it). */
export function manifestEntrySchema(spec: PartitionSpec, schema: IcebergSchema): object {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: opt('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: opt('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: opt('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134, doc: 'Contents of the file: 0=data, 1=position deletes, 2=equality deletes' },
            { name: 'file_path', type: 'string', 'field-id': 100, doc: 'Location URI with FS scheme' },
            { name: 'file_format', type: 'string', 'field-id': 101, doc: 'File format name: avro, orc, or parquet' },
            {
              name: 'partition',
              'field-id': 102,
              type: {
                type: 'record',
                name: 'r102',
                fields: spec.fields.map((f) => ({ name: f.name, type: opt(partitionAvroType(f, schema)), default: null, 'field-id': f['field-id'] })),
              },
            },
            { name: 'record_count', type: 'long', 'field-id': 103, doc: 'Number of records in the file' },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104, doc: 'Total file size in bytes' },
            { name: 'column_sizes', type: opt(intMap(117, 118, 'long')), default: null, 'field-id': 108 },
            { name: 'value_counts', type: opt(intMap(119, 120, 'long')), default: null, 'field-id': 109 },
            { name: 'null_value_counts', type: opt(intMap(121, 122, 'long')), default: null, 'field-id': 110 },
            { name: 'nan_value_counts', type: opt(intMap(138, 139, 'long')), default: null, 'field-id': 137 },
            { name: 'lower_bounds', type: opt(intMap(126, 127, 'bytes')), default: null, 'field-id': 125 },
            { name: 'upper_bounds', type: opt(intMap(129, 130, 'bytes')), default: null, 'field-id': 128 },
            { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 131 },
            { name: 'split_offsets', type: opt({ type: 'array', items: 'long', 'element-id': 133 }), default: null, 'field-id': 132 },
            { name: 'equality_ids', type: opt({ type: 'array', items: 'int', 'element-id': 136 }), default: null, 'field-id': 135 },
            { name: 'sort_order_id', type: opt('int'), default: null, 'field-id': 140 },
            { name: 'referenced_data_file', type: opt('string'), default: null, 'field-id': 143 },
          ],
        },
      },
    ],
  };
}

/** The Avro schema of a manifest list. */
export const MANIFEST_FILE_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500, doc: 'Location URI with FS scheme' },
    { name: 'manifest_length', type: 'long', 'field-id': 501, doc: 'Total file size in bytes' },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502, doc: 'Spec ID used to write' },
    { name: 'content', type: 'int', 'field-id': 517, doc: 'Contents of the manifest: 0=data, 1=deletes' },
    { name: 'sequence_number', type: 'long', 'field-id': 515, doc: 'Sequence number when the manifest was added' },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516, doc: 'Lowest sequence number in the manifest' },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503, doc: 'Snapshot ID that added the manifest' },
    { name: 'added_files_count', type: 'int', 'field-id': 504, doc: 'Added entry count' },
    { name: 'existing_files_count', type: 'int', 'field-id': 505, doc: 'Existing entry count' },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506, doc: 'Deleted entry count' },
    { name: 'added_rows_count', type: 'long', 'field-id': 512, doc: 'Added rows count' },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513, doc: 'Existing rows count' },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514, doc: 'Deleted rows count' },
    {
      name: 'partitions',
      type: opt({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509, doc: 'True if any file has a null partition value' },
            { name: 'contains_nan', type: opt('boolean'), default: null, 'field-id': 518, doc: 'True if any file has a nan partition value' },
            { name: 'lower_bound', type: opt('bytes'), default: null, 'field-id': 510, doc: 'Partition lower bound for all files' },
            { name: 'upper_bound', type: opt('bytes'), default: null, 'field-id': 511, doc: 'Partition upper bound for all files' },
          ],
        },
      }),
      default: null,
      'field-id': 507,
      doc: 'Summary for each partition',
    },
    { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 519, doc: 'Encryption key metadata blob' },
  ],
} as const;

/** Compiled Avro types by schema object (the manifest schemas are few and fixed). */
const byObject = new WeakMap<object, avro.Type>();
/** Compiled Avro types by schema JSON (a manifest's schema object is built per spec and table schema). */
const byJson = new Map<string, avro.Type>();
const TYPE_CACHE_MAX = 64;

/**
 * The compiled `avsc` type of a schema, from a cache: compiling one builds its reader and writer
 * functions, which cost more than encoding a small manifest.
 */
export function avroType(schema: object): avro.Type {
  const hit = byObject.get(schema);
  if (hit) return hit;
  const json = JSON.stringify(schema);
  let type = byJson.get(json);
  if (type === undefined) {
    type = avro.Type.forSchema(schema as avro.Schema);
    byJson.set(json, type);
    if (byJson.size > TYPE_CACHE_MAX) byJson.delete(byJson.keys().next().value as string);
  }
  byObject.set(schema, type);
  return type;
}

/** Writes records as an Avro object container file with key-value metadata; resolves with its bytes. */
export function writeAvro(schema: object, records: readonly object[], metadata: Record<string, string>): Promise<Uint8Array> {
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(metadata)) meta[k] = Buffer.from(v, 'utf8');
  const encoder = new avro.streams.BlockEncoder(avroType(schema), { metadata: meta, codec: 'null', writeHeader: true } as never);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('error', reject);
    encoder.on('end', () => resolve(Buffer.concat(chunks)));
    for (const r of records) encoder.write(r);
    encoder.end();
  });
}

/** Reads every record of an Avro object container file (with the writer's schema). */
export async function readAvro<T>(bytes: Uint8Array): Promise<T[]> {
  // The writer's schema is in the file's header; compiling it is cached like the writers' types.
  const decoder = new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => avroType(schema as object) } as never);
  const out: T[] = [];
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('data', (r: T) => out.push(r));
    decoder.on('error', reject);
    decoder.on('end', () => resolve());
  });
  Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]).pipe(decoder);
  await done;
  return out;
}
