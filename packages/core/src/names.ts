/**
 * Stream names and patterns: validation, matching, and their order-preserving key encoding.
 * See docs/design/0001-key-layout.md for why '/' becomes 0x01 inside keys.
 *
 * @module
 */
import { InvalidPatternError, InvalidStreamNameError } from './errors.js';

/** Longest segment, in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 128;
/** Longest stream name, in UTF-8 bytes. */
export const MAX_STREAM_NAME_BYTES = 512;
/** Most segments in one stream name. */
export const MAX_SEGMENTS = 32;

const SEGMENT = /^[\p{L}\p{N}_\-.:@+=~]+$/u;
const decoder = new TextDecoder('utf-8', { fatal: true });

function checkSegment(segment: string, fail: (reason: string) => never): void {
  if (segment.length === 0) fail('it has an empty segment (leading, trailing or doubled "/")');
  if (segment === '.' || segment === '..') fail(`segment "${segment}" is not allowed`);
  if (!SEGMENT.test(segment)) fail(`segment "${segment.slice(0, 64)}" has a character outside letters, digits and - _ . : @ + = ~`);
  // A UTF-16 unit is at most 3 UTF-8 bytes: short segments need no byte count (this runs per append).
  if (segment.length * 3 > MAX_SEGMENT_BYTES && Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) fail(`a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
}

/**
 * Throws {@link InvalidStreamNameError} unless `name` is a valid stream name: 1 to 32 '/'-separated
 * segments of letters, digits and `- _ . : @ + = ~`, none empty, `.` or `..`, at most 512 bytes.
 */
export function assertStreamName(name: unknown): asserts name is string {
  const fail = (reason: string): never => {
    throw new InvalidStreamNameError(name, reason);
  };
  if (typeof name !== 'string') fail(`expected a string, got ${name === null ? 'null' : typeof name}`);
  const s = name as string;
  if (s.length === 0) fail('it is empty');
  if (s.length > MAX_STREAM_NAME_BYTES || (s.length * 3 > MAX_STREAM_NAME_BYTES && Buffer.byteLength(s, 'utf8') > MAX_STREAM_NAME_BYTES)) {
    fail(`it is longer than ${MAX_STREAM_NAME_BYTES} bytes`);
  }
  const segments = s.split('/');
  if (segments.length > MAX_SEGMENTS) fail(`it has more than ${MAX_SEGMENTS} segments`);
  for (const segment of segments) checkSegment(segment, fail);
}

/** True if `name` is a valid stream name (see {@link assertStreamName}). */
export function isValidStreamName(name: unknown): name is string {
  try {
    assertStreamName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws {@link InvalidStreamNameError} unless `prefix` is '' (the root) or a valid stream name
 * used as a hierarchy prefix.
 */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (prefix === '') return;
  assertStreamName(prefix);
}

/** A compiled stream pattern. */
export interface StreamPattern {
  /** The pattern as given. */
  readonly source: string;
  /** True if the stream name matches. */
  matches(stream: string): boolean;
  /** The literal segments before the first wildcard, joined with '/' ('' if it starts with one). */
  readonly literalPrefix: string;
  /** True if the pattern has no wildcard (it names one stream). */
  readonly exact: boolean;
}

/**
 * Compiles a stream pattern: segments are literals, `*` (exactly one segment) or, as the last
 * segment only, `>` (one or more segments). `>` alone matches every stream.
 * Throws {@link InvalidPatternError} on a malformed pattern.
 */
export function compilePattern(pattern: unknown): StreamPattern {
  const fail = (reason: string): never => {
    throw new InvalidPatternError(pattern, reason);
  };
  if (typeof pattern !== 'string') return fail(`expected a string, got ${pattern === null ? 'null' : typeof pattern}`);
  if (pattern.length === 0) fail('it is empty');
  if (Buffer.byteLength(pattern, 'utf8') > MAX_STREAM_NAME_BYTES) fail(`it is longer than ${MAX_STREAM_NAME_BYTES} bytes`);
  const parts = pattern.split('/');
  if (parts.length > MAX_SEGMENTS) fail(`it has more than ${MAX_SEGMENTS} segments`);
  parts.forEach((part, i) => {
    if (part === '*') return;
    if (part === '>') {
      if (i !== parts.length - 1) fail("'>' may only be the last segment");
      return;
    }
    checkSegment(part, fail);
  });
  const firstWild = parts.findIndex((p) => p === '*' || p === '>');
  const exact = firstWild < 0;
  const literalPrefix = (exact ? parts : parts.slice(0, firstWild)).join('/');
  const tail = parts[parts.length - 1] === '>';
  const fixed = tail ? parts.slice(0, -1) : parts;
  return { source: pattern, matches: matcher(pattern, fixed, tail, exact, literalPrefix), literalPrefix, exact };
}

/**
 * The match function of a compiled pattern. It runs once per event of every filtered read,
 * subscription and projection, so it allocates nothing (a `split('/')` per call cost ~1.2 µs per
 * event in a projection catch-up: docs/design/0010-cpu-per-event.md), and it remembers its last
 * answer, since consecutive events mostly share a stream (and its interned name).
 */
function matcher(pattern: string, fixed: readonly string[], tail: boolean, exact: boolean, literalPrefix: string): (stream: string) => boolean {
  if (exact) return (stream) => stream === pattern;
  if (tail && fixed.length === 0) return () => true;
  let last: string | undefined;
  let lastResult = false;
  if (tail && !fixed.includes('*')) {
    // 'a/b/>': a literal prefix and at least one more segment (names have no empty segments).
    const head = `${literalPrefix}/`;
    return (stream) => stream.length > head.length && stream.startsWith(head);
  }
  const test = (stream: string): boolean => {
    let start = 0;
    for (let i = 0; i < fixed.length; i++) {
      const slash = stream.indexOf('/', start);
      const end = slash < 0 ? stream.length : slash;
      if (start >= stream.length) return false;
      const p = fixed[i]!;
      if (p !== '*' && (end - start !== p.length || !stream.startsWith(p, start))) return false;
      if (slash < 0) return !tail && i === fixed.length - 1;
      start = slash + 1;
    }
    // Every fixed segment matched and more of the name follows: only '>' takes the rest.
    return tail;
  };
  return (stream) => {
    if (stream !== last) {
      lastResult = test(stream);
      last = stream;
    }
    return lastResult;
  };
}

/**
 * Encodes a stream name for use inside keys: UTF-8 with '/' replaced by 0x01, so that a stream's
 * descendants sort contiguously right after it and before any sibling that shares its text
 * (`a/b` < `a/b/c` < `a/b-c`). Valid names never contain 0x00 or 0x01.
 */
export function encodeName(name: string): Uint8Array {
  // Buffer.from takes small strings from a shared pool: cheaper than TextEncoder's own allocation.
  const bytes = Buffer.from(name, 'utf8');
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x2f) bytes[i] = 0x01;
  return bytes;
}

/** Inverse of {@link encodeName}. */
export function decodeName(bytes: Uint8Array): string {
  const copy = Uint8Array.from(bytes);
  for (let i = 0; i < copy.length; i++) if (copy[i] === 0x01) copy[i] = 0x2f;
  return decoder.decode(copy);
}
