/**
 * WAL objects: one per group commit, holding whole write batches (a batch is never split, so it
 * is atomic across crashes). Format 2:
 *
 * ```
 * "SWAL" | u16 version | u64 writer epoch | u64 resume slot (0 = the next one) | u32 batch count
 *        | batches | u32 crc32(everything before)
 * batch: u32 op count, then ops: u8 type (1 put, 2 del, 3 range-del, 4 put-same) | key [| value] or range
 * ```
 *
 * A put-same op stores `varint n` instead of its value: the value of the object's n-th put (0-based,
 * counting puts of every batch before it). The event log writes each record under two keys; the
 * writer passes the same bytes for both, and the WAL carries them once.
 *
 * Format 1 (read, never written) lacks the resume slot. The resume slot is set by the fence
 * object a new writer claims: replay jumps from it over the slots the fenced writer may still
 * fill (docs/design/0005, "Several WAL PUTs in flight").
 *
 * @module
 */
import { crc32 } from 'node:zlib';
import { ByteReader, ByteWriter } from '../bytes.js';
import { CorruptionError } from '../errors.js';
import type { KeyRange } from '../range.js';
import { readRange, writeRange } from '../sst/format.js';

/** First bytes of every WAL object. */
export const WAL_MAGIC = Buffer.from('SWAL', 'latin1');
/** The WAL format this code writes. */
export const WAL_FORMAT_VERSION = 2;

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
  // Values seen in this object, by identity (the same bytes object, not equal bytes: no hashing).
  const puts = new Map<Uint8Array, number>();
  let putIndex = 0;
  for (const batch of batches) {
    w.u32(batch.length);
    for (const op of batch) {
      if (op.type === 'put') {
        const same = op.value.byteLength > 0 ? puts.get(op.value) : undefined;
        if (same !== undefined) w.u8(OP_PUT_SAME).lbytes(op.key).varint(same);
        else {
          w.u8(OP_PUT).lbytes(op.key).lbytes(op.value);
          puts.set(op.value, putIndex);
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
  if (version !== 1 && version !== WAL_FORMAT_VERSION) throw new CorruptionError(`${what}: unsupported WAL version ${version}`);
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
      } else if (t === OP_PUT_SAME && version !== 1) {
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
