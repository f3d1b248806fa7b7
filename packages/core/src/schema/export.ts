/**
 * Columnar export: events of chosen types to Parquet files whose columns come from the types'
 * latest JSON Schema (nested objects flattened to `a.b` columns, enums as strings, date-times as
 * timestamps, optional fields nullable, arrays and unions as JSON), plus the event envelope.
 * Incremental: a named export remembers the last position it wrote, in the log's store.
 * How this maps onto an Apache Iceberg table: docs/design/0006-schemas.md.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ColumnSource, parquetWriteFile } from 'hyparquet-writer';
import { InvalidArgumentError } from '../errors.js';
import type { RecordedEvent } from '../types.js';
import type { JsonSchema } from './compat.js';
import type { SchemaRegistry } from './registry.js';

/** Options of {@link exportParquet}. */
export interface ExportOptions {
  /** Event types to export (each to its own files). */
  types: readonly string[];
  /** Directory for the files (created if missing). */
  dir: string;
  /** First global position (default: after the named export's checkpoint, else 1). */
  from?: number;
  /** Last global position (default: the log's head when the export starts). */
  to?: number;
  /** Only events committed at or after this time. */
  since?: Date | number;
  /** Only events committed before this time. */
  until?: Date | number;
  /**
   * Names an incremental export: a checkpoint per type is stored under the name and the next run
   * continues each type from its own checkpoint, so a type added to a named export later is
   * exported from the start of the log (backfilled), not from where the others are.
   */
  name?: string;
  /** Rows per file at most (default 100,000). */
  rowsPerFile?: number;
}

/** One file written. */
export interface ExportedFile {
  type: string;
  path: string;
  rows: number;
  fromPosition: number;
  toPosition: number;
}

/** What an export did. */
export interface ExportResult {
  files: ExportedFile[];
  /** Positions scanned: `[from, to]`. */
  from: number;
  to: number;
  /** Events of the exported types skipped because they were written before their type was registered. */
  skipped: number;
}

type Kind = 'STRING' | 'DOUBLE' | 'INT64' | 'BOOLEAN' | 'TIMESTAMP' | 'JSON';
interface Column {
  name: string;
  path: string[];
  kind: Kind;
  nullable: boolean;
}

function columnsOf(schema: JsonSchema, path: string[] = [], nullable = false): Column[] {
  const alts = schema.anyOf ?? schema.oneOf;
  let s = schema;
  let optional = nullable;
  if (alts) {
    const nonNull = alts.filter((a) => a.type !== 'null');
    optional ||= nonNull.length < alts.length;
    if (nonNull.length !== 1) return [{ name: path.join('.'), path, kind: 'JSON', nullable: true }];
    s = nonNull[0]!;
  }
  const types = Array.isArray(s.type) ? s.type.filter((t) => t !== 'null') : s.type === undefined ? [] : [s.type];
  if (Array.isArray(s.type) && s.type.includes('null')) optional = true;
  const col = (kind: Kind): Column[] => [{ name: path.join('.'), path, kind, nullable: optional }];
  if (s.enum !== undefined || s.const !== undefined) return col(typeof (s.enum?.[0] ?? s.const) === 'string' ? 'STRING' : 'JSON');
  if (types.length !== 1) return col('JSON');
  switch (types[0]) {
    case 'object': {
      const required = new Set(s.required ?? []);
      const props = Object.entries(s.properties ?? {});
      if (props.length === 0) return col('JSON');
      return props.flatMap(([k, sub]) => columnsOf(sub, [...path, k], optional || !required.has(k)));
    }
    case 'string':
      return col(s.format === 'date-time' ? 'TIMESTAMP' : 'STRING');
    case 'integer':
      return col('INT64');
    case 'number':
      return col('DOUBLE');
    case 'boolean':
      return col('BOOLEAN');
    default:
      return col('JSON');
  }
}

function valueAt(data: unknown, path: string[]): unknown {
  let v = data;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** The writer encodes JSON columns itself, so those values pass through as they are. */
function convert(v: unknown, kind: Kind): unknown {
  if (v === undefined || v === null) return null;
  switch (kind) {
    case 'INT64':
      return BigInt(v as number);
    case 'TIMESTAMP':
      return new Date(v as string);
    default:
      return v;
  }
}

const ENVELOPE = ['stream', 'version', 'position', 'time', 'id', 'type', 'schema_version'];

/**
 * Exports events of the given types to Parquet files in `dir`, one file per type and chunk,
 * named `<type>-<first position>-<last position>.parquet`. Data is read through the log, so old
 * events arrive upcast to the latest schema version, which gives the columns.
 */
export async function exportParquet(registry: SchemaRegistry, options: ExportOptions): Promise<ExportResult> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('exportParquet needs { types, dir }.');
  const { types, dir } = options;
  if (!Array.isArray(types) || types.length === 0) throw new InvalidArgumentError('exportParquet needs at least one event type in types.');
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('exportParquet needs a dir.');
  if (options.name !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(options.name)) throw new InvalidArgumentError('An export name is 1-64 letters, digits, - or _.');
  const log = registry.eventLog;
  const layouts = new Map<string, Column[]>();
  for (const t of types) {
    const schema = registry.jsonSchema(t);
    if (schema === undefined) throw new InvalidArgumentError(`${String(t)} is not registered; only registered types can be exported (their schema gives the columns).`);
    const cols = columnsOf(schema, [], false);
    for (const c of cols) if (ENVELOPE.includes(c.name)) c.name = `data.${c.name}`;
    layouts.set(t, cols.length === 1 && cols[0]!.name === '' ? [{ ...cols[0]!, name: 'data' }] : cols);
  }
  const checkpoints = log.sublevel('exports');
  const saved = options.name ? savedCheckpoints(await checkpoints.get(options.name)) : undefined;
  // Each type starts after its own checkpoint: a type new to this export starts at 1.
  const fromOf = new Map<string, number>(types.map((t) => [t, options.from ?? ((typeof saved === 'number' ? saved : saved?.[t]) ?? 0) + 1]));
  const from = Math.min(...fromOf.values());
  const to = options.to ?? log.position;
  const since = options.since === undefined ? Number.NEGATIVE_INFINITY : +options.since;
  const until = options.until === undefined ? Number.POSITIVE_INFINITY : +options.until;
  const rowsPerFile = options.rowsPerFile ?? 100_000;
  await mkdir(dir, { recursive: true });
  const buffers = new Map<string, RecordedEvent[]>(types.map((t) => [t, []]));
  const files: ExportedFile[] = [];
  let skipped = 0;

  const flush = (type: string) => {
    const rows = buffers.get(type)!;
    if (rows.length === 0) return;
    const cols = layouts.get(type)!;
    const first = rows[0]!.position;
    const last = rows.at(-1)!.position;
    const path = join(dir, `${type}-${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}.parquet`);
    const columnData: ColumnSource[] = [
      { name: 'stream', data: rows.map((e) => e.stream), type: 'STRING' },
      { name: 'version', data: rows.map((e) => BigInt(e.version)), type: 'INT64' },
      { name: 'position', data: rows.map((e) => BigInt(e.position)), type: 'INT64' },
      { name: 'time', data: rows.map((e) => new Date(e.timestamp)), type: 'TIMESTAMP' },
      { name: 'id', data: rows.map((e) => e.id), type: 'STRING' },
      { name: 'type', data: rows.map((e) => e.type), type: 'STRING' },
      { name: 'schema_version', data: rows.map((e) => BigInt(e.schemaVersion ?? 0)), type: 'INT64' },
      // Payload columns are all nullable: an event this process cannot upcast keeps its older shape.
      ...cols.map((c) => ({ name: c.name, data: rows.map((e) => convert(c.path.length === 0 ? e.data : valueAt(e.data, c.path), c.kind)), type: c.kind, nullable: true }) as ColumnSource),
    ];
    parquetWriteFile({ filename: path, columnData, kvMetadata: [{ key: 'strand.type', value: type }, { key: 'strand.schema', value: JSON.stringify(registry.jsonSchema(type)) }] });
    files.push({ type, path, rows: rows.length, fromPosition: first, toPosition: last });
    buffers.set(type, []);
  };

  if (from <= to) {
    for await (const e of log.readAll({ from, to })) {
      const buf = buffers.get(e.type);
      if (buf === undefined || e.timestamp < since || e.timestamp >= until || e.position < fromOf.get(e.type)!) continue;
      // Written before the type was registered: its data never met the schema the columns come from.
      if (e.schemaVersion === undefined) {
        skipped++;
        continue;
      }
      buf.push(e);
      if (buf.length >= rowsPerFile) flush(e.type);
    }
  }
  for (const t of types) flush(t);
  if (options.name && to >= from) {
    const next: Record<string, number> = typeof saved === 'object' ? { ...saved } : {};
    for (const t of types) if (to >= fromOf.get(t)!) next[t] = to;
    await checkpoints.put(options.name, { format: 2, types: next }, { sync: true } as never);
  }
  return { files, from, to, skipped };
}

/**
 * A named export's stored checkpoints: per type (format 2), or one position for every type (what
 * earlier versions stored, read as the checkpoint of each type the export is run with).
 */
function savedCheckpoints(value: unknown): Record<string, number> | number | undefined {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && (value as { format?: unknown }).format === 2) return (value as { types: Record<string, number> }).types;
  return undefined;
}
