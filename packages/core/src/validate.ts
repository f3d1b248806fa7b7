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

/** Throws unless `events` is a non-empty array of well-formed {@link EventInput}s with unique ids. */
export function assertEvents(events: unknown, maxEvents: number): asserts events is readonly EventInput[] {
  if (!Array.isArray(events)) throw new InvalidEventError('events must be an array of { type, data } objects');
  if (events.length === 0) throw new InvalidEventError('an append needs at least one event');
  if (events.length > maxEvents) throw new InvalidEventError(`an append holds at most ${maxEvents} events, got ${events.length}; split it`);
  const ids = new Set<string>();
  events.forEach((e: unknown, index) => {
    if (!isPlainObject(e)) throw new InvalidEventError('each event must be a plain object { type, data }', { index });
    const { type, data, id, metadata, schemaVersion } = e;
    if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH || CONTROL.test(type)) {
      throw new InvalidEventError(`type must be a string of 1 to ${MAX_TYPE_LENGTH} printable characters`, { index });
    }
    if (data === undefined) throw new InvalidEventError('data is required (use null for an event without payload)', { index, type });
    if (id !== undefined) {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_TYPE_LENGTH || CONTROL.test(id)) {
        throw new InvalidEventError(`id must be a string of 1 to ${MAX_TYPE_LENGTH} printable characters`, { index, type });
      }
      if (ids.has(id)) throw new InvalidEventError(`event id ${id} appears twice in one append`, { index, type });
      ids.add(id);
    }
    if (metadata !== undefined && !isPlainObject(metadata)) throw new InvalidEventError('metadata must be a plain object', { index, type });
    if (schemaVersion !== undefined && (typeof schemaVersion !== 'number' || !Number.isSafeInteger(schemaVersion) || schemaVersion < 1)) {
      throw new InvalidEventError('schemaVersion must be an integer >= 1', { index, type });
    }
  });
}
