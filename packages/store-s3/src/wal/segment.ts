/**
 * WAL segments: one object holding a run of consecutive WAL objects, byte for byte, written by
 * the writer once they are all acknowledged, so a reopen (and a follower's open) reads the WAL a
 * segment per GET instead of an object per GET (docs/design/0005-s3-engine.md, "Bounded
 * replay"). A segment is only a shortcut: the WAL objects it copies stay where they are until GC
 * (which deletes both below the manifest's replay point), and replay falls back to them when a
 * segment is missing or damaged. Format 1:
 *
 * ```
 * "SWSG" | u16 version | u64 first slot | u32 count | count x (u32 length | WAL object) | u32 crc32(everything before)
 * ```
 *
 * Key: `walseg/<first slot, 20 digits>-<last slot, 20 digits>` (LIST order is slot order).
 *
 * @module
 */
import { crc32 } from 'node:zlib';
import { CorruptionError } from '@strand/core';

/** First bytes of every WAL segment. */
const SEGMENT_MAGIC = Buffer.from('SWSG', 'latin1');
const SEGMENT_VERSION = 1;

/**
 * Most WAL objects one segment holds: a format constant, since replay lists segments from this
 * many slots before its start to find one that covers it.
 */
export const SEGMENT_MAX_OBJECTS = 256;

/** Encodes WAL objects of consecutive slots from `first` as one segment. */
export function encodeSegment(first: number, objects: readonly Uint8Array[]): Buffer {
  let size = 4 + 2 + 8 + 4 + 4;
  for (const o of objects) size += 4 + o.byteLength;
  const out = Buffer.allocUnsafe(size);
  SEGMENT_MAGIC.copy(out, 0);
  out.writeUInt16LE(SEGMENT_VERSION, 4);
  out.writeBigUInt64LE(BigInt(first), 6);
  out.writeUInt32LE(objects.length, 14);
  let pos = 18;
  for (const o of objects) {
    out.writeUInt32LE(o.byteLength, pos);
    out.set(o, pos + 4);
    pos += 4 + o.byteLength;
  }
  out.writeUInt32LE(crc32(out.subarray(0, pos)), pos);
  return out;
}

/** A decoded segment: the WAL objects (still encoded) of slots `first`, `first + 1`, ... */
export interface WalSegment {
  first: number;
  objects: Uint8Array[];
}

/** Decodes a segment; a torn or foreign object throws {@link CorruptionError}. */
export function decodeSegment(bytes: Uint8Array, what = 'WAL segment'): WalSegment {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 22 || !buf.subarray(0, 4).equals(SEGMENT_MAGIC)) throw new CorruptionError(`${what}: not a WAL segment`);
  const n = buf.length - 4;
  if (crc32(buf.subarray(0, n)) !== buf.readUInt32LE(n)) throw new CorruptionError(`${what}: checksum mismatch (torn)`);
  if (buf.readUInt16LE(4) !== SEGMENT_VERSION) throw new CorruptionError(`${what}: unsupported segment version ${buf.readUInt16LE(4)}`);
  const first = Number(buf.readBigUInt64LE(6));
  const count = buf.readUInt32LE(14);
  const objects: Uint8Array[] = [];
  let pos = 18;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > n) throw new CorruptionError(`${what}: truncated`);
    const len = buf.readUInt32LE(pos);
    if (pos + 4 + len > n) throw new CorruptionError(`${what}: truncated`);
    objects.push(buf.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  if (pos !== n) throw new CorruptionError(`${what}: trailing bytes`);
  return { first, objects };
}

const pad = (n: number): string => String(n).padStart(20, '0');

/** Object key of the segment of slots `first` to `last` (inclusive). */
export function segmentKey(prefix: string, first: number, last: number): string {
  return `${prefix}walseg/${pad(first)}-${pad(last)}`;
}

/** Where a LIST of the segments that may cover slot `from` or later starts (exclusive). */
export function segmentListStart(prefix: string, from: number): string {
  return `${prefix}walseg/${pad(Math.max(0, from - SEGMENT_MAX_OBJECTS))}`;
}

/** The slots a segment key covers, or undefined for a foreign key. */
export function segmentRangeOf(prefix: string, key: string): { first: number; last: number } | undefined {
  const m = /^walseg\/(\d{20})-(\d{20})$/.exec(key.slice(prefix.length));
  return m ? { first: Number(m[1]), last: Number(m[2]) } : undefined;
}
