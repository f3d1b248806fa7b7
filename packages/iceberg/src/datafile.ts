/**
 * Data files: events as Parquet (hyparquet-writer) with the Iceberg field id on every column,
 * the table schema in the `iceberg.schema` key as the reference implementation writes it, the
 * Iceberg type mappings of the spec's Appendix A (timestamptz as TIMESTAMP_MICROS adjusted to
 * UTC, strings as UTF8), and the metrics a manifest keeps (value and null counts, lower and upper
 * bounds of the envelope's numbers and times, serialised as in Appendix D).
 *
 * @module
 */
import type { RecordedEvent } from '@strand/core';
import { type ColumnSource, parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer';
import type { DataFile, PartitionSpec, PartitionValues } from './avro.js';
import { type IcebergField, type IcebergSchema, type IcebergType, type PayloadColumn, parquetName } from './schema.js';

/** Milliseconds per day (the `day` transform). */
export const DAY_MS = 86_400_000;

/** The partition values of an event under `spec`. */
export function partitionOf(spec: PartitionSpec, e: RecordedEvent): PartitionValues {
  const out: PartitionValues = {};
  for (const f of spec.fields) out[f.name] = f.transform === 'day' ? Math.floor(e.timestamp / DAY_MS) : e.type;
  return out;
}

/** A partition's directory under `data/`, Hive style (`time_day=2026-11-30/type=OrderPlaced`). */
export function partitionPath(spec: PartitionSpec, p: PartitionValues): string {
  return spec.fields
    .map((f) => {
      const v = p[f.name];
      const text = f.transform === 'day' && typeof v === 'number' ? new Date(v * DAY_MS).toISOString().slice(0, 10) : String(v);
      return `${f.name}=${encodeURIComponent(text)}`;
    })
    .join('/');
}

function parquetElement(f: IcebergField): SchemaElement {
  const base = { name: parquetName(f.name), repetition_type: f.required ? 'REQUIRED' : 'OPTIONAL', field_id: f.id } as const;
  switch (f.type) {
    case 'boolean':
      return { ...base, type: 'BOOLEAN' };
    case 'int':
      return { ...base, type: 'INT32' };
    case 'long':
      return { ...base, type: 'INT64' };
    case 'float':
      return { ...base, type: 'FLOAT' };
    case 'double':
      return { ...base, type: 'DOUBLE' };
    case 'string':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'timestamptz':
      return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
  }
}

function valueAt(data: unknown, path: readonly string[]): unknown {
  let v = data;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/**
 * A payload value as the column's type, or null. An event whose data does not fit (written with
 * an older version this process cannot upcast) leaves the cell empty rather than failing.
 */
function convert(v: unknown, type: IcebergType, json: boolean): unknown {
  if (v === undefined || v === null) return null;
  if (json) return JSON.stringify(v);
  switch (type) {
    case 'string':
      return typeof v === 'string' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    case 'int':
      return Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31 ? v : null;
    case 'long':
      return Number.isSafeInteger(v) ? BigInt(v as number) : null;
    case 'float':
    case 'double':
      return typeof v === 'number' ? v : null;
    case 'timestamptz': {
      if (typeof v !== 'string') return null;
      const d = new Date(v);
      return Number.isNaN(d.getTime()) ? null : d;
    }
  }
}

function le64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}

function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** A data file written and described for its manifest entry. */
export interface WrittenDataFile {
  /** Path relative to the table location. */
  path: string;
  bytes: Uint8Array;
  /** The `data_file` struct (with `file_path` filled in by the caller). */
  dataFile: Omit<DataFile, 'file_path'>;
  /** First and last log position in the file. */
  fromPosition: number;
  toPosition: number;
}

/**
 * Encodes events of one partition as a Parquet data file of `schema`. `columns` says where each
 * payload field's value comes from; schema fields no column feeds are written as nulls.
 */
export function encodeDataFile(rows: readonly RecordedEvent[], schema: IcebergSchema, columns: readonly PayloadColumn[], partition: PartitionValues, path: string): WrittenDataFile {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const n = rows.length;
  const values = new Map<number, unknown[]>();
  for (const f of schema.fields) {
    let data: unknown[];
    switch (f.id) {
      case 1:
        data = rows.map((e) => e.stream);
        break;
      case 2:
        data = rows.map((e) => BigInt(e.version));
        break;
      case 3:
        data = rows.map((e) => BigInt(e.position));
        break;
      case 4:
        data = rows.map((e) => BigInt(e.timestamp) * 1000n);
        break;
      case 5:
        data = rows.map((e) => e.id);
        break;
      case 6:
        data = rows.map((e) => e.type);
        break;
      case 7:
        data = rows.map((e) => e.schemaVersion ?? 0);
        break;
      default: {
        const c = byName.get(f.name);
        if (c === undefined) data = new Array<null>(n).fill(null);
        else if (c.path.length === 0) data = rows.map((e) => convert(e.data, f.type, c.json));
        else data = rows.map((e) => convert(valueAt(e.data, c.path), f.type, c.json));
      }
    }
    values.set(f.id, data);
  }
  return encodeColumns(schema, values, n, partition, path);
}

/** A bound as the spec's single-value serialisation (Appendix D), for the numeric envelope columns. */
function bound(type: IcebergType, v: bigint | number): Buffer {
  return type === 'int' ? le32(Number(v)) : le64(BigInt(v));
}

/**
 * Encodes columns (values by field id, in the column's type; a missing id is all nulls) as a
 * Parquet data file of `schema`, with the manifest's metrics.
 */
export function encodeColumns(schema: IcebergSchema, values: ReadonlyMap<number, readonly unknown[]>, n: number, partition: PartitionValues, path: string): WrittenDataFile {
  const nulls = new Map<number, number>();
  const columnData: ColumnSource[] = [];
  const lower: Array<{ key: number; value: Buffer }> = [];
  const upper: Array<{ key: number; value: Buffer }> = [];
  for (const f of schema.fields) {
    const data = (values.get(f.id) as unknown[] | undefined) ?? new Array<null>(n).fill(null);
    if (!f.required) {
      let k = 0;
      for (const v of data) if (v === null || v === undefined) k++;
      nulls.set(f.id, k);
    } else if (BOUNDED.has(f.id) && n > 0) {
      let lo = data[0] as bigint | number;
      let hi = lo;
      for (const v of data as Array<bigint | number>) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      lower.push({ key: f.id, value: bound(f.type, lo) });
      upper.push({ key: f.id, value: bound(f.type, hi) });
    }
    columnData.push({ name: parquetName(f.name), data: data as never });
  }
  const schemaElements: SchemaElement[] = [{ name: 'table', num_children: schema.fields.length }, ...schema.fields.map(parquetElement)];
  const buffer = parquetWriteBuffer({
    columnData,
    schema: schemaElements,
    kvMetadata: [{ key: 'iceberg.schema', value: JSON.stringify(schema) }],
    createdBy: 'strand iceberg export',
  });
  const bytes = new Uint8Array(buffer);
  const positions = values.get(3) as readonly bigint[] | undefined;
  return {
    path,
    bytes,
    fromPosition: Number(positions?.[0] ?? 0),
    toPosition: Number(positions?.at(-1) ?? 0),
    dataFile: {
      content: 0,
      file_format: 'parquet',
      partition,
      record_count: n,
      file_size_in_bytes: bytes.byteLength,
      value_counts: schema.fields.map((f) => ({ key: f.id, value: n })),
      null_value_counts: schema.fields.map((f) => ({ key: f.id, value: nulls.get(f.id) ?? 0 })),
      lower_bounds: lower,
      upper_bounds: upper,
      split_offsets: null,
      sort_order_id: 0,
    },
  };
}

/** Envelope columns with lower and upper bounds in the manifest: version, position, time, schema_version. */
const BOUNDED = new Set([2, 3, 4, 7]);
