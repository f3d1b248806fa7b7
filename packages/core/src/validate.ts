/**
 * Checks of public-API arguments. Every check throws a typed `StrandError` naming the fix.
 *
 * @module
 */
import { describeValue, InvalidArgumentError, InvalidEventError, type ExpectedVersion } from './errors.js';
import type { EventInput } from './types.js';

/** Longest event type and event id, in characters. */
export const MAX_TYPE_LENGTH = 128;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are refused in types and ids.
const CONTROL = /[\u0000-\u001f\u007f]/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Throws unless `v` is a valid expected version. */
export function assertExpectedVersion(v: unknown): asserts v is ExpectedVersion {
  if (v === 'any' || v === 'no_stream' || v === 'stream_exists') return;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return;
  throw new InvalidArgumentError(
    `expectedVersion must be 'any', 'no_stream', 'stream_exists' or a version >= 0, got ${describeValue(v)}.`,
    { expectedVersion: describeValue(v) },
  );
}

/**
 * Throws {@link InvalidArgumentError} unless `v` is a safe integer from `min` (default 0) to `max`
 * (default unbounded), or undefined when optional (the default). For numeric options.
 */
export function assertCount(name: string, v: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER, optional = true } = {}): void {
  if (v === undefined && optional) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(`${name} must be an integer ${range}, got ${describeValue(v)}.`, { [name]: describeValue(v) });
  }
}

/** A lone (unpaired) UTF-16 surrogate: such strings cannot be stored as UTF-8 and read back. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True if `s` has a lone surrogate (it would be stored mangled, as U+FFFD). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** Most nesting levels in event data and metadata. */
const MAX_DEPTH = 64;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return 'array';
  return (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'object';
}

const pathOf = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** What {@link copyValue} refuses beyond what no codec keeps. */
interface CopyRules {
  /** Refuse what JSON does not read back equal (non-finite numbers, BigInt, non-plain objects). */
  json: boolean;
  /** Refuse lone surrogates in strings and keys (msgpack stores them mangled). */
  wellFormed: boolean;
}

const DATA_RULES: CopyRules = { json: false, wellFormed: false };
const JSON_RULES: CopyRules = { json: true, wellFormed: false };
const META_RULES: CopyRules = { json: true, wellFormed: true };

/**
 * Copies event data once, reading every property once (a getter answers once; one that throws is
 * a typed error): plain objects and arrays are copied, other values kept as they are for the
 * codec to judge. Refused, as no codec keeps them: functions and symbols (which JSON and msgpack
 * silently drop), holes and `undefined` in arrays, cycles, nesting deeper than 64. Properties
 * whose value is `undefined` are kept in the copy (JSON leaves them out when stored).
 */
function copyValue(v: unknown, path: string, depth: number, onPath: Set<object>, rules: CopyRules, index: number, type: string): unknown {
  const fail = (why: string): never => {
    throw new InvalidEventError(`${path} ${why}`, { index, type, path });
  };
  switch (typeof v) {
    case 'string':
      if (rules.wellFormed && hasLoneSurrogate(v)) fail('has a lone UTF-16 surrogate, which cannot be stored; use well-formed strings');
      return v;
    case 'boolean':
      return v;
    case 'number':
      if (rules.json && !Number.isFinite(v)) fail(`is ${v}, which JSON cannot hold; use null or a string`);
      return v;
    case 'undefined':
      return v;
    case 'function':
    case 'symbol':
      return fail(`is a ${typeof v}, which cannot be stored; convert it to data first`);
    case 'bigint':
      if (rules.json) fail('is a BigInt, which JSON cannot hold; use a number or a string');
      return v;
  }
  if (v === null) return v;
  const o = v as object;
  if (depth >= MAX_DEPTH) fail(`nests deeper than ${MAX_DEPTH} levels`);
  if (onPath.has(o)) fail('refers back to itself (a cycle), which cannot be stored');
  const array = Array.isArray(o);
  if (!array) {
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      if (rules.json) fail(`is a ${kindOf(o)}, which JSON would not read back as one; convert it first (e.g. a Date to an ISO string)`);
      return o;
    }
  }
  onPath.add(o);
  try {
    if (array) {
      const a = o as unknown[];
      const n = a.length;
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        if (!Object.hasOwn(a, i)) fail(`has a hole at index ${i} (a sparse array); fill it, e.g. with null`);
        const item = copyValue(read(a as unknown as Record<number, unknown>, i, path, index, type), pathOf(path, i), depth + 1, onPath, rules, index, type);
        if (item === undefined) fail(`[${i}] is undefined, which cannot be stored in an array; use null`);
        out[i] = item;
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(o)) {
      if (rules.wellFormed && hasLoneSurrogate(key)) fail(`has a key with a lone UTF-16 surrogate`);
      const item = copyValue(read(o as Record<string, unknown>, key, path, index, type), pathOf(path, key), depth + 1, onPath, rules, index, type);
      // Kept as given (JSON leaves it out when stored): the copy reads like the caller's object.
      out[key] = item;
    }
    return out;
  } finally {
    onPath.delete(o);
  }
}

function read(o: Record<string | number, unknown>, key: string | number, path: string, index: number, type: string): unknown {
  try {
    return o[key];
  } catch (cause) {
    throw new InvalidEventError(`${pathOf(path, key)} could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, { index, type });
  }
}

/**
 * Copies metadata: a plain object of JSON values (strings without lone surrogates, finite
 * numbers, booleans, null, plain objects and arrays). Anything else is `STRAND_INVALID_EVENT`.
 */
export function copyMetadata(metadata: unknown, index = 0, type = ''): Record<string, unknown> {
  if (!isPlainObject(metadata)) throw new InvalidEventError('metadata must be a plain object', { index, type });
  return copyValue(metadata, 'metadata', 0, new Set(), META_RULES, index, type) as Record<string, unknown>;
}

/** One event, checked field by field (each read once) and copied. */
function copyEvent(e: unknown, index: number, ids: Set<string>, rules: CopyRules | undefined): EventInput {
  const copyData = rules !== undefined;
  if (!isPlainObject(e)) throw new InvalidEventError('each event must be a plain object { type, data }', { index });
  let fields: { type: unknown; data: unknown; id: unknown; metadata: unknown; schemaVersion: unknown };
  try {
    const { type, data, id, metadata, schemaVersion } = e;
    fields = { type, data, id, metadata, schemaVersion };
  } catch (cause) {
    throw new InvalidEventError(`event ${index} could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, { index });
  }
  const { type, data, id, metadata, schemaVersion } = fields;
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH || CONTROL.test(type) || hasLoneSurrogate(type)) {
    throw new InvalidEventError(`type must be a string of 1 to ${MAX_TYPE_LENGTH} printable characters (well-formed UTF-16)`, { index });
  }
  if (data === undefined) throw new InvalidEventError('data is required (use null for an event without payload)', { index, type });
  const out: EventInput = { type, data: rules === undefined ? data : copyValue(data, 'data', 0, new Set(), rules, index, type) };
  if (id !== undefined) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_TYPE_LENGTH || CONTROL.test(id) || hasLoneSurrogate(id)) {
      throw new InvalidEventError(`id must be a string of 1 to ${MAX_TYPE_LENGTH} printable characters (well-formed UTF-16)`, { index, type });
    }
    if (ids.has(id)) throw new InvalidEventError(`event id ${id} appears twice in one append`, { index, type });
    ids.add(id);
    out.id = id;
  }
  if (metadata !== undefined) out.metadata = copyData ? copyMetadata(metadata, index, type) : (metadata as Record<string, unknown>);
  if (!copyData && metadata !== undefined && !isPlainObject(metadata)) throw new InvalidEventError('metadata must be a plain object', { index, type });
  if (schemaVersion !== undefined) {
    if (typeof schemaVersion !== 'number' || !Number.isSafeInteger(schemaVersion) || schemaVersion < 1) throw new InvalidEventError('schemaVersion must be an integer >= 1', { index, type });
    out.schemaVersion = schemaVersion;
  }
  return out;
}

function eventsArray(events: unknown, maxEvents: number): unknown[] {
  if (!Array.isArray(events)) throw new InvalidEventError('events must be an array of { type, data } objects');
  const n = events.length;
  if (n === 0) throw new InvalidEventError('an append needs at least one event');
  if (n > maxEvents) throw new InvalidEventError(`an append holds at most ${maxEvents} events, got ${n}; split it`);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    // A hole would become a missing version: refuse it rather than skip it.
    if (!Object.hasOwn(events, i)) throw new InvalidEventError(`events[${i}] is missing (a sparse array); every position must hold an event`, { index: i });
    out[i] = events[i];
  }
  return out;
}

/**
 * Copies the events of an append once, at the boundary: a non-empty, dense array of well-formed
 * events with unique ids, each field read once, data and metadata copied (see
 * {@link copyMetadata}). With `json`, data must also be plain JSON that reads back equal: NaN and
 * infinities (JSON makes them null), non-plain objects such as Date, Map or class instances (JSON
 * makes them strings or `{}`) and BigInt are refused, naming the path. The copy is what the codec
 * encodes (once) and what the append's result returns: nothing after reads the caller's objects.
 */
export function copyEvents(events: unknown, maxEvents: number, json = false): EventInput[] {
  const ids = new Set<string>();
  const rules = json ? JSON_RULES : DATA_RULES;
  return eventsArray(events, maxEvents).map((e, i) => copyEvent(e, i, ids, rules));
}

/** Throws unless `events` is a non-empty, dense array of well-formed {@link EventInput}s with unique ids (interceptor output). */
export function assertEvents(events: unknown, maxEvents: number): asserts events is readonly EventInput[] {
  const ids = new Set<string>();
  eventsArray(events, maxEvents).forEach((e, i) => void copyEvent(e, i, ids, undefined));
}

/** One stream's append as read from the caller, once. */
export interface AppendInput {
  stream: string;
  events: EventInput[];
  expectedVersion: ExpectedVersion;
  recreate: boolean;
}

/**
 * Reads and checks one stream's append (`stream`, `events`, and the `expectedVersion` and
 * `recreate` options) once, returning a copy: `expectedVersion` absent means `'any'`, while
 * `null` (or anything else) is refused, never taken as `'any'`.
 */
export function copyAppend(stream: unknown, events: unknown, options: unknown, maxEvents: number, json: boolean, assertName: (s: unknown) => asserts s is string): AppendInput {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('append options must be an object.');
  let expectedVersion: unknown;
  let recreate: unknown;
  try {
    ({ expectedVersion, recreate } = options as { expectedVersion?: unknown; recreate?: unknown });
  } catch (cause) {
    throw new InvalidArgumentError(`append options could not be read: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  assertName(stream);
  const expected = expectedVersion === undefined ? 'any' : expectedVersion;
  assertExpectedVersion(expected);
  if (recreate !== undefined && typeof recreate !== 'boolean') throw new InvalidArgumentError(`recreate must be true or false, got ${describeValue(recreate)}.`);
  return { stream, events: copyEvents(events, maxEvents, json), expectedVersion: expected, recreate: recreate === true };
}

/** Reads the parts of an appendMulti once: each part's fields are read a single time and copied. */
export function copyParts(parts: unknown, maxEvents: number, json: boolean, assertName: (s: unknown) => asserts s is string): AppendInput[] {
  if (!Array.isArray(parts) || parts.length === 0) throw new InvalidArgumentError('appendMulti needs a non-empty array of { stream, events, expectedVersion }.');
  const n = parts.length;
  if (n > 1000) throw new InvalidArgumentError(`appendMulti takes at most 1000 streams, got ${n}.`);
  const out: AppendInput[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const p: unknown = Object.hasOwn(parts, i) ? parts[i] : undefined;
    if (p === null || typeof p !== 'object') throw new InvalidArgumentError('each appendMulti part must be an object { stream, events, expectedVersion }.');
    let fields: { stream: unknown; events: unknown; expectedVersion: unknown; recreate: unknown };
    try {
      const { stream, events, expectedVersion, recreate } = p as Record<string, unknown>;
      fields = { stream, events, expectedVersion, recreate };
    } catch (cause) {
      throw new InvalidArgumentError(`appendMulti part ${i} could not be read: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    const part = copyAppend(fields.stream, fields.events, { expectedVersion: fields.expectedVersion, recreate: fields.recreate }, maxEvents, json, assertName);
    if (seen.has(part.stream)) throw new InvalidArgumentError(`Stream "${part.stream}" appears twice in one appendMulti; merge its events into one part.`);
    seen.add(part.stream);
    out.push(part);
  }
  return out;
}
