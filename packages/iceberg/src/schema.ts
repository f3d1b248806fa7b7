/**
 * Iceberg schemas from the schema registry's JSON Schemas: the event envelope as required
 * columns with fixed field ids, the payload flattened (`customer.name`) into optional columns
 * whose ids are assigned once per name and kept across versions, and the evolution rules of an
 * Iceberg v2 table (new optional columns; int -> long, float -> double; anything else refused).
 * Design: docs/design/0009-iceberg.md.
 *
 * @module
 */
import type { JsonSchema } from '@strand/core';
import { IcebergSchemaError } from './errors.js';

/** The primitive Iceberg types this exporter writes. */
export type IcebergType = 'boolean' | 'int' | 'long' | 'float' | 'double' | 'string' | 'timestamptz';

/** A field of an Iceberg schema (Appendix C of the spec). */
export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}

/** An Iceberg schema (a struct with a `schema-id`). */
export interface IcebergSchema {
  type: 'struct';
  'schema-id': number;
  fields: IcebergField[];
  'identifier-field-ids'?: number[];
}

/** Where a payload column's value comes from. */
export interface PayloadColumn {
  /** Column name: the JSON path joined with dots (`customer.name`), or `data` for a scalar payload. */
  name: string;
  /** Path inside the event data. */
  path: string[];
  type: IcebergType;
  /** Written as JSON text (arrays, unions, open objects). */
  json: boolean;
}

/** Envelope columns and their fixed field ids (1-7). */
export const ENVELOPE: readonly IcebergField[] = [
  { id: 1, name: 'stream', required: true, type: 'string', doc: 'stream name' },
  { id: 2, name: 'version', required: true, type: 'long', doc: 'version in the stream' },
  { id: 3, name: 'position', required: true, type: 'long', doc: 'global log position' },
  { id: 4, name: 'time', required: true, type: 'timestamptz', doc: 'commit time' },
  { id: 5, name: 'id', required: true, type: 'string', doc: 'event id' },
  { id: 6, name: 'type', required: true, type: 'string', doc: 'event type' },
  { id: 7, name: 'schema_version', required: true, type: 'int', doc: 'schema version the event was written with' },
];

const ENVELOPE_NAMES = new Set(ENVELOPE.map((f) => f.name));
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const FLOAT32_MAX = 3.4028234663852886e38;

function payloadColumnsOf(schema: JsonSchema, path: string[]): PayloadColumn[] {
  const alts = schema.anyOf ?? schema.oneOf;
  let s = schema;
  const col = (type: IcebergType, json = false): PayloadColumn[] => [{ name: path.join('.'), path, type, json }];
  if (alts) {
    const nonNull = alts.filter((a) => a.type !== 'null');
    if (nonNull.length !== 1) return col('string', true);
    s = nonNull[0]!;
  }
  const types = Array.isArray(s.type) ? s.type.filter((t) => t !== 'null') : s.type === undefined ? [] : [s.type];
  if (s.enum !== undefined || s.const !== undefined) {
    const values = s.enum ?? [s.const];
    return values.every((v) => typeof v === 'string') ? col('string') : col('string', true);
  }
  if (types.length !== 1) return col('string', true);
  const lo = (s.minimum ?? s.exclusiveMinimum) as number | undefined;
  const hi = (s.maximum ?? s.exclusiveMaximum) as number | undefined;
  switch (types[0]) {
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      if (props.length === 0) return col('string', true);
      return props.flatMap(([k, sub]) => payloadColumnsOf(sub, [...path, k]));
    }
    case 'string':
      return col(s.format === 'date-time' ? 'timestamptz' : 'string');
    case 'integer':
      return col(lo !== undefined && hi !== undefined && lo >= INT32.min && hi <= INT32.max ? 'int' : 'long');
    case 'number':
      // Only zod's z.float32() (bounds exactly the float32 range): other bounded numbers are doubles.
      return col(lo === -FLOAT32_MAX && hi === FLOAT32_MAX ? 'float' : 'double');
    case 'boolean':
      return col('boolean');
    default:
      return col('string', true);
  }
}

/**
 * The payload columns of one event type's JSON Schema: objects flattened to dotted names,
 * integers as `int` when the schema bounds them to 32 bits (`z.int32()`, `.min().max()`) and
 * `long` otherwise, numbers as `float` for zod's `z.float32()` and `double`
 * otherwise, `date-time` strings as `timestamptz`, string enums as `string`, arrays, unions
 * and open objects as JSON text. A column named like an envelope column is prefixed `data.`.
 */
export function payloadColumns(schema: JsonSchema): PayloadColumn[] {
  const out = payloadColumnsOf(schema, []);
  for (const c of out) {
    if (c.path.length === 0) c.name = 'data';
    else if (ENVELOPE_NAMES.has(c.name)) c.name = `data.${c.name}`;
  }
  return out;
}

/** Whether Iceberg v2 can promote a column of type `from` to `to`. */
export function canPromote(from: IcebergType, to: IcebergType): boolean {
  return from === to || (from === 'int' && to === 'long') || (from === 'float' && to === 'double');
}

/**
 * The payload columns of several event types sharing one table: a name used by several types
 * gets the wider type when one promotes to the other; otherwise the types cannot share a table.
 */
export function mergeColumns(table: string, perType: ReadonlyArray<{ type: string; columns: PayloadColumn[] }>): PayloadColumn[] {
  const merged = new Map<string, PayloadColumn & { from: string }>();
  const problems: string[] = [];
  for (const { type, columns } of perType) {
    for (const c of columns) {
      const seen = merged.get(c.name);
      if (seen === undefined) merged.set(c.name, { ...c, from: type });
      else if (canPromote(seen.type, c.type)) merged.set(c.name, { ...c, from: type, json: seen.json || c.json });
      else if (!canPromote(c.type, seen.type)) problems.push(`column ${c.name} is ${seen.type} in ${seen.from} but ${c.type} in ${type}`);
    }
  }
  if (problems.length > 0) throw new IcebergSchemaError(table, problems);
  return [...merged.values()].map(({ from: _from, ...c }) => c);
}

/** The first schema of a new table: the envelope, then the payload columns. */
export function initialSchema(columns: readonly PayloadColumn[]): { schema: IcebergSchema; lastColumnId: number } {
  const fields: IcebergField[] = ENVELOPE.map((f) => ({ ...f }));
  let id = ENVELOPE.length;
  for (const c of columns) fields.push({ id: ++id, name: c.name, required: false, type: c.type });
  return { schema: { type: 'struct', 'schema-id': 0, fields }, lastColumnId: id };
}

/**
 * Evolves `current` so it can hold `columns`: unknown names become new optional columns with new
 * ids, int/float columns widen to long/double, columns no longer produced stay (old rows keep
 * their values, new rows have nulls). Returns `undefined` when nothing changes; throws
 * {@link IcebergSchemaError} for changes Iceberg cannot express.
 */
export function evolveSchema(
  table: string,
  current: IcebergSchema,
  lastColumnId: number,
  nextSchemaId: number,
  columns: readonly PayloadColumn[],
): { schema: IcebergSchema; lastColumnId: number } | undefined {
  const fields = current.fields.map((f) => ({ ...f }));
  const byName = new Map(fields.map((f) => [f.name, f]));
  const problems: string[] = [];
  let changed = false;
  let last = lastColumnId;
  for (const c of columns) {
    const f = byName.get(c.name);
    if (f === undefined) {
      const added: IcebergField = { id: ++last, name: c.name, required: false, type: c.type };
      fields.push(added);
      byName.set(c.name, added);
      changed = true;
    } else if (f.type === c.type || canPromote(c.type, f.type)) {
      // Same type, or the table's column is already the wider one.
    } else if (canPromote(f.type, c.type)) {
      f.type = c.type;
      changed = true;
    } else {
      problems.push(`column ${c.name} (id ${f.id}) would change from ${f.type} to ${c.type}`);
    }
  }
  if (problems.length > 0) throw new IcebergSchemaError(table, problems);
  return changed ? { schema: { type: 'struct', 'schema-id': nextSchemaId, fields }, lastColumnId: last } : undefined;
}

/**
 * The Parquet column name of an Iceberg field, made Avro-compatible the way the reference
 * implementation does (`customer.name` -> `customer_x2Ename`); readers map columns by field id.
 */
export function parquetName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name.charAt(i);
    const letter = /[A-Za-z]/.test(ch);
    const digit = /[0-9]/.test(ch);
    if (i === 0 && !(letter || ch === '_')) out += digit ? `_${ch}` : `_x${ch.charCodeAt(0).toString(16).toUpperCase()}`;
    else if (letter || digit || ch === '_') out += ch;
    else out += `_x${ch.charCodeAt(0).toString(16).toUpperCase()}`;
  }
  return out;
}

/** The table's default name mapping (`schema.name-mapping.default`): each field id by its Iceberg and Parquet names. */
export function nameMapping(schema: IcebergSchema): string {
  return JSON.stringify(schema.fields.map((f) => ({ 'field-id': f.id, names: [...new Set([f.name, parquetName(f.name)])] })));
}
