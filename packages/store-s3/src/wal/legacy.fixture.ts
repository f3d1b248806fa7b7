/**
 * WAL formats 1 and 2 as the previous releases wrote them, for tests that check old WAL objects
 * still replay (the unit test checks this encoder against `fixtures/wal-v2.golden`, written by
 * the release that wrote format 2). Not part of the package.
 *
 * @module
 */
import { crc32 } from 'node:zlib';
import { ByteWriter } from '../bytes.js';
import { writeRange } from '../sst/format.js';
import type { WalBatch } from './format.js';
import { WAL_MAGIC } from './format.js';

/**
 * Encodes a WAL object in format 1 (no resume slot, no put-same) or 2 (a value passed again, the
 * same object, stored as put-same: `varint n`).
 */
export function encodeLegacyWal(version: 1 | 2, epoch: number, batches: WalBatch[], resumeAt = 0): Buffer {
  const w = new ByteWriter(256);
  w.bytes(WAL_MAGIC).u16(version).u64(epoch);
  if (version === 2) w.u64(resumeAt);
  w.u32(batches.length);
  const puts = new Map<Uint8Array, number>();
  let putIndex = 0;
  for (const batch of batches) {
    w.u32(batch.length);
    for (const op of batch) {
      if (op.type === 'put') {
        const same = version === 2 && op.value.byteLength > 0 ? puts.get(op.value) : undefined;
        if (same !== undefined) w.u8(4).lbytes(op.key).varint(same);
        else {
          w.u8(1).lbytes(op.key).lbytes(op.value);
          puts.set(op.value, putIndex);
        }
        putIndex++;
      } else if (op.type === 'del') w.u8(2).lbytes(op.key);
      else {
        w.u8(3);
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

/** The batches of `fixtures/wal-v2.golden` (epoch 5): puts passed twice, a delete, a range delete. */
export function legacyBatches(): WalBatch[] {
  const b = (s: string) => Buffer.from(s);
  const record = Buffer.alloc(120, 0x61);
  record.write('global-record-', 0);
  const other = b('second shared value');
  return [
    [
      { type: 'put', key: b('g/1'), value: record },
      { type: 'put', key: b('s/a/1'), value: record },
      { type: 'put', key: b('h/a'), value: b('head-1') },
    ],
    [{ type: 'del', key: b('old') }],
    [
      { type: 'put', key: b('g/2'), value: other },
      { type: 'put', key: b('s/b/1'), value: other },
      { type: 'put', key: b('s/a/1-again'), value: record },
      { type: 'put', key: b('empty'), value: b('') },
    ],
    [{ type: 'range-del', range: { start: b('c'), startInclusive: true, end: b('d'), endInclusive: false } }],
  ];
}
