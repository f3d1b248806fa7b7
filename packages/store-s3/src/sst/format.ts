/**
 * SST format version 1: constants and the codecs of its parts. Changing anything here changes
 * the bytes pinned by the golden fixture: add a version instead.
 *
 * ```
 * data blocks | range-tombstone block | bloom block | index block | footer (64 bytes)
 * block:  payload | u8 compression | u32 crc32(payload + compression byte)
 * entry:  u8 kind | varint key length | key | (put only) varint value length | value
 * index:  u32 count, then per block: varint last-key length | last key | u64 offset | u32 size | u32 entries
 * footer: u64 index offset | u32 index size | u64 bloom offset | u32 bloom size
 *         | u64 range-tombstone offset | u32 range-tombstone size | u64 entries | u32 blocks
 *         | u32 flags | u16 format version | 2 reserved bytes | 8-byte magic "STRANDS3"
 * ```
 *
 * @module
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter } from '../bytes.js';
import { CorruptionError } from '@strand/core';
import type { KeyRange } from '../range.js';

/** The last 8 bytes of every SST. */
export const SST_MAGIC = Buffer.from('STRANDS3', 'latin1');
/** The format version this code writes (and the only one it reads so far). */
export const SST_FORMAT_VERSION = 1;
/** Fixed size of the footer. */
export const FOOTER_SIZE = 64;
/** Entry kind: a value. */
export const KIND_PUT = 1;
/** Entry kind: a point tombstone. */
export const KIND_DEL = 2;
/** Block compression: none. */
export const COMPRESSION_NONE = 0;
/** Block compression: raw deflate (node:zlib). */
export const COMPRESSION_DEFLATE = 1;
/** Bytes after each block's payload: compression byte + crc32. */
export const BLOCK_TRAILER = 5;

/** Where the metadata blocks are, read from the footer. */
export interface Footer {
  indexOffset: number;
  indexSize: number;
  bloomOffset: number;
  bloomSize: number;
  rangeDelOffset: number;
  rangeDelSize: number;
  entries: number;
  blocks: number;
  flags: number;
  version: number;
}

/** One data block's place and extent. */
export interface BlockHandle {
  /** Largest key in the block. */
  lastKey: Uint8Array;
  offset: number;
  /** Size on disk, trailer included. */
  size: number;
  entries: number;
}

/** A decoded data block: keys in order; `null` values are tombstones. */
export interface DecodedBlock {
  keys: Uint8Array[];
  values: (Uint8Array | null)[];
  /** Approximate memory footprint, for the block cache. */
  bytes: number;
}

/** Frames a block: optional compression, then the trailer with its checksum. */
export function encodeBlock(payload: Uint8Array, compress: boolean): Buffer {
  let body: Uint8Array = payload;
  let compression = COMPRESSION_NONE;
  if (compress) {
    const z = deflateRawSync(payload);
    // Keep the raw bytes when compression does not pay (random or tiny payloads).
    if (z.byteLength < payload.byteLength * 0.9) {
      body = z;
      compression = COMPRESSION_DEFLATE;
    }
  }
  const out = Buffer.allocUnsafe(body.byteLength + BLOCK_TRAILER);
  out.set(body, 0);
  out[body.byteLength] = compression;
  out.writeUInt32LE(crc32(out.subarray(0, body.byteLength + 1)), body.byteLength + 1);
  return out;
}

/** Checks a framed block's checksum and returns its (decompressed) payload. */
export function decodeBlockFrame(framed: Uint8Array, what: string): Uint8Array {
  if (framed.byteLength < BLOCK_TRAILER) throw new CorruptionError(`${what}: block too short`);
  const buf = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const n = buf.length - 4;
  const expected = buf.readUInt32LE(n);
  if (crc32(buf.subarray(0, n)) !== expected) throw new CorruptionError(`${what}: block checksum mismatch`);
  const compression = buf[n - 1];
  const body = buf.subarray(0, n - 1);
  if (compression === COMPRESSION_NONE) return body;
  if (compression === COMPRESSION_DEFLATE) {
    try {
      return inflateRawSync(body);
    } catch (err) {
      throw new CorruptionError(`${what}: cannot inflate block: ${(err as Error).message}`);
    }
  }
  throw new CorruptionError(`${what}: unknown compression ${compression}`);
}

/** Appends one data entry. */
export function writeEntry(w: ByteWriter, key: Uint8Array, value: Uint8Array | null): void {
  w.u8(value === null ? KIND_DEL : KIND_PUT).lbytes(key);
  if (value !== null) w.lbytes(value);
}

/** Decodes a data block payload. Keys and values do not alias the input, so callers may keep them. */
export function decodeDataBlock(payload: Uint8Array, what: string): DecodedBlock {
  // One copy of the whole payload; keys and values are views into it.
  const owned = Buffer.from(payload);
  const r = new ByteReader(owned, what);
  const keys: Uint8Array[] = [];
  const values: (Uint8Array | null)[] = [];
  while (r.remaining > 0) {
    const kind = r.u8();
    keys.push(r.lbytes());
    if (kind === KIND_PUT) values.push(r.lbytes());
    else if (kind === KIND_DEL) values.push(null);
    else throw new CorruptionError(`${what}: unknown entry kind ${kind}`);
  }
  return { keys, values, bytes: owned.byteLength + keys.length * 64 };
}

/** Encodes the block index. */
export function encodeIndex(handles: BlockHandle[]): Buffer {
  const w = new ByteWriter(64 + handles.length * 32);
  w.u32(handles.length);
  for (const h of handles) w.lbytes(h.lastKey).u64(h.offset).u32(h.size).u32(h.entries);
  return w.finish();
}

/** Decodes the block index. */
export function decodeIndex(payload: Uint8Array, what: string): BlockHandle[] {
  const r = new ByteReader(payload, what);
  const n = r.u32();
  const out: BlockHandle[] = [];
  for (let i = 0; i < n; i++) {
    const lastKey = Buffer.from(r.lbytes());
    out.push({ lastKey, offset: r.u64(), size: r.u32(), entries: r.u32() });
  }
  return out;
}

const RANGE_HAS_START = 1;
const RANGE_START_INCLUSIVE = 2;
const RANGE_HAS_END = 4;
const RANGE_END_INCLUSIVE = 8;

/** Appends a key range (used by range tombstones in SSTs and WAL objects). */
export function writeRange(w: ByteWriter, r: KeyRange): void {
  let flags = 0;
  if (r.start !== undefined) flags |= RANGE_HAS_START;
  if (r.startInclusive) flags |= RANGE_START_INCLUSIVE;
  if (r.end !== undefined) flags |= RANGE_HAS_END;
  if (r.endInclusive) flags |= RANGE_END_INCLUSIVE;
  w.u8(flags);
  if (r.start !== undefined) w.lbytes(r.start);
  if (r.end !== undefined) w.lbytes(r.end);
}

/** Reads what {@link writeRange} wrote. */
export function readRange(r: ByteReader): KeyRange {
  const flags = r.u8();
  const range: KeyRange = {
    startInclusive: (flags & RANGE_START_INCLUSIVE) !== 0,
    endInclusive: (flags & RANGE_END_INCLUSIVE) !== 0,
  };
  if (flags & RANGE_HAS_START) range.start = Buffer.from(r.lbytes());
  if (flags & RANGE_HAS_END) range.end = Buffer.from(r.lbytes());
  return range;
}

/** Encodes the range-tombstone block payload. */
export function encodeRangeTombstones(ranges: KeyRange[]): Buffer {
  const w = new ByteWriter(64);
  w.u32(ranges.length);
  for (const r of ranges) writeRange(w, r);
  return w.finish();
}

/** Decodes the range-tombstone block payload. */
export function decodeRangeTombstones(payload: Uint8Array, what: string): KeyRange[] {
  const r = new ByteReader(payload, what);
  const n = r.u32();
  const out: KeyRange[] = [];
  for (let i = 0; i < n; i++) out.push(readRange(r));
  return out;
}

/** Encodes the footer. */
export function encodeFooter(f: Footer): Buffer {
  const w = new ByteWriter(FOOTER_SIZE);
  w.u64(f.indexOffset).u32(f.indexSize).u64(f.bloomOffset).u32(f.bloomSize);
  w.u64(f.rangeDelOffset).u32(f.rangeDelSize).u64(f.entries).u32(f.blocks).u32(f.flags);
  w.u16(f.version).u16(0).bytes(SST_MAGIC);
  const out = w.finish();
  if (out.length !== FOOTER_SIZE) throw new Error(`footer is ${out.length} bytes`);
  return out;
}

/** Decodes and checks the footer (magic and version). */
export function decodeFooter(bytes: Uint8Array, what: string): Footer {
  if (bytes.byteLength !== FOOTER_SIZE) throw new CorruptionError(`${what}: footer has ${bytes.byteLength} bytes`);
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset + FOOTER_SIZE - 8, 8);
  if (!magic.equals(SST_MAGIC)) throw new CorruptionError(`${what}: not an SST (bad magic)`);
  const r = new ByteReader(bytes, what);
  const f: Footer = {
    indexOffset: r.u64(),
    indexSize: r.u32(),
    bloomOffset: r.u64(),
    bloomSize: r.u32(),
    rangeDelOffset: r.u64(),
    rangeDelSize: r.u32(),
    entries: r.u64(),
    blocks: r.u32(),
    flags: r.u32(),
    version: r.u16(),
  };
  if (f.version !== SST_FORMAT_VERSION) throw new CorruptionError(`${what}: unsupported SST format version ${f.version}`);
  return f;
}
