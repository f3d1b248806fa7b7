/**
 * WAL objects: one per group commit, holding whole write batches (a batch is never split, so it
 * is atomic across crashes). Format 3:
 *
 * ```
 * "SWAL" | u16 version | u64 writer epoch | u64 resume slot (0 = the next one) | u32 batch count
 *        | batches | u32 crc32(everything before)
 * batch: u32 op count, then ops: u8 type (1 put, 2 del, 3 range-del, 5 put-slice) | key [| value] or range
 * ```
 *
 * A put-slice op stores `varint n | varint offset | varint length` instead of its value: the bytes
 * `offset .. offset + length` of the value of the object's n-th put (0-based, counting puts of
 * every batch before it). The encoder writes one wherever a value lies in the memory of an earlier
 * put's value of the same object (the same bytes, not equal bytes: no hashing): the event log
 * encodes each record once and hands the global key the whole record and the stream key its body,
 * a view of the same buffer (record format 2), and `S3Level._batch` keeps that sharing when it
 * copies. So the WAL carries each event's body once.
 *
 * Read, never written: format 2 (op 4, put-same: `varint n`, the whole value of the n-th put) and
 * format 1 (no resume slot, no put-same). The resume slot is set by the fence object a new writer
 * claims: replay jumps from it over the slots the fenced writer may still fill
 * (docs/design/0005, "Several WAL PUTs in flight").
 *
 * @module
 */
import { crc32 } from 'node:zlib';
import { ByteReader, ByteWriter } from '../bytes.js';
import { CorruptionError } from '@strand/core';
import type { KeyRange } from '../range.js';
import { readRange, writeRange } from '../sst/format.js';

/** First bytes of every WAL object. */
export const WAL_MAGIC = Buffer.from('SWAL', 'latin1');
/** The WAL format this code writes. */
export const WAL_FORMAT_VERSION = 3;

/**
 * Most WAL PUTs a writer keeps in flight: a format constant, because a new writer skips this many
 * slots after its fence object (the fenced writer may still land objects in them).
 */
export const WAL_WINDOW_MAX = 16;

/** One operation of a write batch. */
export type WalOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array }
  | { type: 'range-del'; range: KeyRange };

/** An atomic write batch. */
export type WalBatch = WalOp[];

/** A decoded WAL object. */
export interface WalObject {
  /** Epoch of the writer that stored it. */
  epoch: number;
  /** Slot where replay continues after this object; 0 = the next slot. Set by fence objects. */
  resumeAt: number;
  batches: WalBatch[];
}

const OP_PUT = 1;
const OP_DEL = 2;
const OP_RANGE_DEL = 3;
const OP_PUT_SAME = 4;
const OP_PUT_SLICE = 5;

/**
 * Earlier puts of the same buffer a value is checked against. The event log's stream value lies
 * in the put just before it; a small bound keeps encoding linear when many unrelated values share
 * one buffer (Node's pool for small Buffers).
 */
const SLICE_LOOKBACK = 8;

/**
 * A WAL object of a format this code does not know, with a good checksum: written by a newer
 * Strand. Not torn, so replay must not skip or delete it: it fails instead.
 */
export class UnsupportedWalFormatError extends CorruptionError {}

/** Where a value lies: the memory of an earlier put's value. */
interface Region {
  /** The put's index in its WAL object (or batch). */
  index: number;
  start: number;
  end: number;
}

/**
 * Finds an earlier value whose memory holds `value` (among the last {@link SLICE_LOOKBACK} of its
 * buffer), so `value` can be stored as a reference to it.
 */
export function findContaining<R extends Region>(regions: Map<ArrayBufferLike, R[]>, value: Uint8Array): R | undefined {
  const list = regions.get(value.buffer);
  if (!list) return undefined;
  const start = value.byteOffset;
  const end = start + value.byteLength;
  for (let i = list.length - 1, seen = 0; i >= 0 && seen < SLICE_LOOKBACK; i--, seen++) {
    const r = list[i] as R;
    if (r.start <= start && end <= r.end) return r;
  }
  return undefined;
}

/** Records `value`'s memory as a region later values may lie in. */
export function addRegion<R extends Region>(regions: Map<ArrayBufferLike, R[]>, region: R, buffer: ArrayBufferLike): void {
  const list = regions.get(buffer);
  if (list) list.push(region);
  else regions.set(buffer, [region]);
}

/** Encoded size estimate of a batch (for flush thresholds). */
export function batchBytes(batch: WalBatch): number {
  let n = 4;
  for (const op of batch) {
    if (op.type === 'put') n += 11 + op.key.byteLength + op.value.byteLength;
    else if (op.type === 'del') n += 6 + op.key.byteLength;
    else n += 12 + (op.range.start?.byteLength ?? 0) + (op.range.end?.byteLength ?? 0);
  }
  return n;
}

/** Encodes a WAL object; `resumeAt` (fence objects only) is where replay continues after it. */
export function encodeWal(epoch: number, batches: WalBatch[], resumeAt = 0): Buffer {
  let size = 40;
  for (const b of batches) size += batchBytes(b);
  const w = new ByteWriter(size);
  w.bytes(WAL_MAGIC).u16(WAL_FORMAT_VERSION).u64(epoch).u64(resumeAt).u32(batches.length);
  // Values of earlier puts of this object, by the memory they occupy.
  const regions = new Map<ArrayBufferLike, Region[]>();
  let putIndex = 0;
  for (const batch of batches) {
    w.u32(batch.length);
    for (const op of batch) {
      if (op.type === 'put') {
        const value = op.value;
        const within = value.byteLength > 0 ? findContaining(regions, value) : undefined;
        if (within !== undefined) w.u8(OP_PUT_SLICE).lbytes(op.key).varint(within.index).varint(value.byteOffset - within.start).varint(value.byteLength);
        else {
          w.u8(OP_PUT).lbytes(op.key).lbytes(value);
          if (value.byteLength > 0) addRegion(regions, { index: putIndex, start: value.byteOffset, end: value.byteOffset + value.byteLength }, value.buffer);
        }
        putIndex++;
      } else if (op.type === 'del') w.u8(OP_DEL).lbytes(op.key);
      else {
        w.u8(OP_RANGE_DEL);
        writeRange(w, op.range);
      }
    }
  }
  const body = w.finish();
  const out = Buffer.allocUnsafe(body.length + 4);
  body.copy(out, 0);
  out.writeUInt32LE(crc32(body), body.length);
  return out;
}

/** Decodes a WAL object; a torn or foreign object throws {@link CorruptionError}. */
export function decodeWal(bytes: Uint8Array, what = 'WAL object'): WalObject {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 22 || !buf.subarray(0, 4).equals(WAL_MAGIC)) throw new CorruptionError(`${what}: not a WAL object`);
  const n = buf.length - 4;
  if (crc32(buf.subarray(0, n)) !== buf.readUInt32LE(n)) throw new CorruptionError(`${what}: checksum mismatch (torn)`);
  const r = new ByteReader(Buffer.from(buf.subarray(0, n)), what);
  r.pos = 4;
  const version = r.u16();
  if (version < 1 || version > WAL_FORMAT_VERSION) {
    throw new UnsupportedWalFormatError(`${what}: unsupported WAL version ${version} (written by a newer Strand? open the store with it)`);
  }
  const epoch = r.u64();
  const resumeAt = version === 1 ? 0 : r.u64();
  const count = r.u32();
  const batches: WalBatch[] = [];
  const values: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const ops = r.u32();
    const batch: WalBatch = [];
    for (let j = 0; j < ops; j++) {
      const t = r.u8();
      if (t === OP_PUT) {
        const op = { type: 'put' as const, key: r.lbytes(), value: r.lbytes() };
        values.push(op.value);
        batch.push(op);
      } else if (t === OP_PUT_SLICE && version >= 3) {
        const key = r.lbytes();
        const of = values[r.varint()];
        const offset = r.varint();
        const length = r.varint();
        if (of === undefined || offset + length > of.byteLength) throw new CorruptionError(`${what}: put-slice refers to bytes that are not there`);
        const value = of.subarray(offset, offset + length);
        values.push(value);
        batch.push({ type: 'put', key, value });
      } else if (t === OP_PUT_SAME && version === 2) {
        const key = r.lbytes();
        const value = values[r.varint()];
        if (value === undefined) throw new CorruptionError(`${what}: put-same refers to a put that is not there`);
        values.push(value);
        batch.push({ type: 'put', key, value });
      } else if (t === OP_DEL) batch.push({ type: 'del', key: r.lbytes() });
      else if (t === OP_RANGE_DEL) batch.push({ type: 'range-del', range: readRange(r) });
      else throw new CorruptionError(`${what}: unknown op ${t}`);
    }
    batches.push(batch);
  }
  if (r.remaining !== 0) throw new CorruptionError(`${what}: trailing bytes`);
  return { epoch, resumeAt, batches };
}

/** Object key of WAL slot `id` (20 digits, so LIST order is slot order). */
export function walKey(prefix: string, id: number): string {
  return `${prefix}wal/${String(id).padStart(20, '0')}`;
}

/** Slot id of a WAL object key, or undefined for a foreign key. */
export function walIdOf(prefix: string, key: string): number | undefined {
  const m = /^wal\/(\d{20})$/.exec(key.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}
