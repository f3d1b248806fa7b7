/**
 * fast-check arbitraries derived from zod schemas, through the JSON Schema zod produces
 * (`z.toJSONSchema`): strings with lengths and formats, numbers and integers with bounds, enums,
 * literals, objects, arrays, nullable and optional fields, unions. Every generated value is checked
 * against the zod schema, so refinements the JSON Schema cannot express only filter.
 *
 * @module
 */
import { InvalidArgumentError } from '@strand/core';
import fc from 'fast-check';
import { z } from 'zod';

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

function fromJson(s: JsonSchema, path: string): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...alts.map((a, i) => fromJson(a, `${path}|${i}`)));
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((t) => fromJson({ ...s, type: t }, path)));
  switch (s.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? Math.floor(s.exclusiveMinimum) + 1 : -1_000_000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? Math.ceil(s.exclusiveMaximum) - 1 : 1_000_000);
      return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) });
    }
    case 'number': {
      const min = s.minimum ?? s.exclusiveMinimum ?? -1e6;
      const max = s.maximum ?? s.exclusiveMaximum ?? 1e6;
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: s.exclusiveMinimum !== undefined, maxExcluded: s.exclusiveMaximum !== undefined });
    }
    case 'string': {
      if (s.format === 'date-time') return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
      if (s.format === 'uuid') return fc.uuid();
      if (s.format === 'email') return fc.emailAddress();
      return fc.string({ minLength: s.minLength ?? 0, maxLength: s.maxLength ?? Math.max(20, s.minLength ?? 0) });
    }
    case 'array':
      return fc.array(s.items ? fromJson(s.items, `${path}[]`) : fc.jsonValue(), { minLength: s.minItems ?? 0, maxLength: s.maxItems ?? Math.max(5, s.minItems ?? 0) });
    case 'object': {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = fromJson(v, `${path}.${k}`);
      return fc.record(model, { requiredKeys: [...required].filter((k) => k in props) as never[] });
    }
    case undefined:
      // `{}`: anything (zod custom types, transforms); the zod check below filters.
      return fc.jsonValue();
    default:
      throw new InvalidArgumentError(`Cannot derive an arbitrary for ${path || 'the schema'} (${JSON.stringify(s).slice(0, 80)}); pass your own arbitrary for it.`);
  }
}

/**
 * An arbitrary of values that the zod schema accepts (its parsed output). Throws
 * `STRAND_INVALID_ARGUMENT` for schema parts it cannot derive (pass your own arbitrary then).
 */
export function arbitraryFromZod<T extends z.ZodType>(schema: T): fc.Arbitrary<z.output<T>> {
  const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as JsonSchema;
  return fromJson(json, '')
    .filter((v) => schema.safeParse(v).success)
    .map((v) => schema.parse(v) as z.output<T>);
}

/** An arbitrary of `{ type, data }` messages over a map of schemas (e.g. an aggregate's commands). */
export function arbitraryMessage<M extends Record<string, z.ZodType>>(schemas: M): fc.Arbitrary<{ [K in keyof M & string]: { type: K; data: z.output<M[K]> } }[keyof M & string]> {
  const entries = Object.entries(schemas);
  if (entries.length === 0) throw new InvalidArgumentError('arbitraryMessage needs at least one schema.');
  return fc.oneof(...entries.map(([type, schema]) => arbitraryFromZod(schema).map((data) => ({ type, data })))) as never;
}
