/**
 * Key ranges: range tombstones (`clear()`), iterator bounds and table extents share this shape.
 *
 * @module
 */
import { compareBytes } from './bytes.js';

/**
 * A range of keys. A missing `start` is unbounded below, a missing `end` unbounded above.
 */
export interface KeyRange {
  /** Lower bound, or undefined for none. */
  start?: Uint8Array | undefined;
  /** Whether `start` itself is in the range. */
  startInclusive: boolean;
  /** Upper bound, or undefined for none. */
  end?: Uint8Array | undefined;
  /** Whether `end` itself is in the range. */
  endInclusive: boolean;
}

/** abstract-level's range options, already encoded to bytes. */
export interface LevelRangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

/** The range abstract-level's `gt`/`gte`/`lt`/`lte` describe (`gte` beats `gt`, `lte` beats `lt`). */
export function rangeFromOptions(o: LevelRangeOptions): KeyRange {
  const range: KeyRange = { startInclusive: true, endInclusive: true };
  if (o.gte !== undefined) range.start = o.gte;
  else if (o.gt !== undefined) {
    range.start = o.gt;
    range.startInclusive = false;
  }
  if (o.lte !== undefined) range.end = o.lte;
  else if (o.lt !== undefined) {
    range.end = o.lt;
    range.endInclusive = false;
  }
  return range;
}

/** True when `key` is at or after the range's start. */
export function afterStart(r: KeyRange, key: Uint8Array): boolean {
  if (r.start === undefined) return true;
  const c = compareBytes(key, r.start);
  return r.startInclusive ? c >= 0 : c > 0;
}

/** True when `key` is at or before the range's end. */
export function beforeEnd(r: KeyRange, key: Uint8Array): boolean {
  if (r.end === undefined) return true;
  const c = compareBytes(key, r.end);
  return r.endInclusive ? c <= 0 : c < 0;
}

/** True when `key` lies in the range. */
export function rangeContains(r: KeyRange, key: Uint8Array): boolean {
  return afterStart(r, key) && beforeEnd(r, key);
}

/** True when the range may hold a key of `[min, max]` (both inclusive). */
export function rangeOverlaps(r: KeyRange, min: Uint8Array, max: Uint8Array): boolean {
  return !isEmpty(r) && overlapsClosed(r, min, max);
}

function overlapsClosed(r: KeyRange, min: Uint8Array, max: Uint8Array): boolean {
  // Disjoint when the range ends before min or starts after max.
  if (r.end !== undefined) {
    const c = compareBytes(r.end, min);
    if (c < 0 || (c === 0 && !r.endInclusive)) return false;
  }
  if (r.start !== undefined) {
    const c = compareBytes(r.start, max);
    if (c > 0 || (c === 0 && !r.startInclusive)) return false;
  }
  return true;
}

/** True when no key can be in the range. */
export function isEmpty(r: KeyRange): boolean {
  if (r.start === undefined || r.end === undefined) return false;
  const c = compareBytes(r.start, r.end);
  return c > 0 || (c === 0 && !(r.startInclusive && r.endInclusive));
}
