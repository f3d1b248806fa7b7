/**
 * Stream names and patterns: validation, matching, and their order-preserving key encoding.
 * See docs/design/0001-key-layout.md for why '/' becomes 0x01 inside keys.
 *
 * @module
 */
import { InvalidPatternError, InvalidStreamNameError } from './errors.js';
import { compileMatcher } from './match.js';

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
  const { matches, literalPrefix, exact } = compileMatcher(pattern);
  return { source: pattern, matches, literalPrefix, exact };
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
