import { isStrandError, type JsonSchema } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { evolveSchema, initialSchema, mergeColumns, nameMapping, parquetName, payloadColumns } from './schema.js';

const json = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input' }) as JsonSchema;

describe('Iceberg schema mapping', () => {
  it('maps JSON Schema types to Iceberg types and flattens objects', () => {
    const cols = payloadColumns(
      json(
        z.object({
          a: z.int32(),
          b: z.number().int(),
          c: z.float32(),
          d: z.number().min(0).max(1),
          e: z.iso.datetime(),
          f: z.enum(['x', 'y']),
          g: z.object({ h: z.boolean().optional() }),
          i: z.array(z.string()),
          stream: z.string(),
          j: z.union([z.string(), z.number()]),
          k: z.string().nullable(),
        }),
      ),
    );
    expect(cols.map((c) => [c.name, c.type, c.json])).toEqual([
      ['a', 'int', false],
      ['b', 'long', false],
      ['c', 'float', false],
      ['d', 'double', false],
      ['e', 'timestamptz', false],
      ['f', 'string', false],
      ['g.h', 'boolean', false],
      ['i', 'string', true],
      ['data.stream', 'string', false],
      ['j', 'string', true],
      ['k', 'string', false],
    ]);
    expect(payloadColumns(json(z.string()))).toEqual([{ name: 'data', path: [], type: 'string', json: false }]);
  });

  it('evolves by adding optional columns and promoting int -> long, float -> double; refuses the rest', () => {
    const { schema, lastColumnId } = initialSchema(payloadColumns(json(z.object({ a: z.int32(), f: z.float32(), s: z.string() }))));
    expect(schema.fields.slice(7).map((f) => [f.id, f.name, f.type, f.required])).toEqual([
      [8, 'a', 'int', false],
      [9, 'f', 'float', false],
      [10, 's', 'string', false],
    ]);
    expect(evolveSchema('t', schema, lastColumnId, 1, payloadColumns(json(z.object({ a: z.int32(), f: z.float32(), s: z.string() }))))).toBeUndefined();
    const next = evolveSchema('t', schema, lastColumnId, 1, payloadColumns(json(z.object({ a: z.number().int(), f: z.number(), n: z.string().optional() }))))!;
    expect(next.lastColumnId).toBe(11);
    expect(next.schema['schema-id']).toBe(1);
    expect(next.schema.fields.slice(7).map((f) => [f.id, f.name, f.type])).toEqual([
      [8, 'a', 'long'],
      [9, 'f', 'double'],
      [10, 's', 'string'],
      [11, 'n', 'string'],
    ]);
    // A narrower type than the table's fits as it is.
    expect(evolveSchema('t', next.schema, 11, 2, payloadColumns(json(z.object({ a: z.int32() }))))).toBeUndefined();
    for (const bad of [z.object({ a: z.number() }), z.object({ s: z.number() }), z.object({ a: z.string() }), z.object({ f: z.int32() })]) {
      let error: unknown;
      try {
        evolveSchema('t', next.schema, 11, 2, payloadColumns(json(bad)));
      } catch (e) {
        error = e;
      }
      expect(isStrandError(error, 'STRAND_ICEBERG_SCHEMA_INCOMPATIBLE'), JSON.stringify(json(bad))).toBe(true);
    }
  });

  it('merges the columns of several types, refusing a name with two unrelated types', () => {
    const a = payloadColumns(json(z.object({ id: z.string(), n: z.int32() })));
    const b = payloadColumns(json(z.object({ id: z.string(), n: z.number().int(), x: z.boolean() })));
    expect(mergeColumns('t', [{ type: 'A', columns: a }, { type: 'B', columns: b }]).map((c) => [c.name, c.type])).toEqual([
      ['data.id', 'string'],
      ['n', 'long'],
      ['x', 'boolean'],
    ]);
    expect(() => mergeColumns('t', [{ type: 'A', columns: a }, { type: 'C', columns: payloadColumns(json(z.object({ n: z.string() }))) }])).toThrow(/n is int in A but string in C/);
  });

  it('names Parquet columns as the reference implementation does, and maps both names to the id', () => {
    expect(parquetName('customer.name')).toBe('customer_x2Ename');
    expect(parquetName('9lives')).toBe('_9lives');
    expect(parquetName('ok_name')).toBe('ok_name');
    const { schema } = initialSchema(payloadColumns(json(z.object({ c: z.object({ n: z.string() }) }))));
    expect(JSON.parse(nameMapping(schema)).at(-1)).toEqual({ 'field-id': 8, names: ['c.n', 'c_x2En'] });
  });
});
