/**
 * Child process of the crash test: writes durably to S3Level on the test RGW and prints one line
 * per acknowledged write (`ack put <i>` / `ack batch <i>`), until its parent kills it.
 *
 *   node --import tsx crash-writer.ts <prefix>
 *
 * @module
 */
import { S3Level } from '../s3-level.js';
import { ensureRgw, rgwStore } from './rgw.js';

const prefix = process.argv[2];
if (!prefix) throw new Error('usage: crash-writer.ts <prefix>');
const store = rgwStore(await ensureRgw());
const db = new S3Level<string, string>({ store, prefix, flushIntervalMs: 10, memtableBytes: 64 * 1024, l0CompactionTrigger: 3 });
await db.open();
process.stdout.write('ready\n');

let next = 0;
async function worker(): Promise<void> {
  for (;;) {
    const i = next++;
    if (i % 4 === 0) {
      // An atomic batch: after the crash its three keys are all there or none is.
      await db.batch(
        [1, 2, 3].map((j) => ({ type: 'put' as const, key: `batch/${i}/${j}`, value: `b${i}` })),
        { sync: true } as never,
      );
      process.stdout.write(`ack batch ${i}\n`);
    } else {
      await db.put(`put/${i}`, `v${i}-${'x'.repeat(i % 100)}`, { sync: true } as never);
      process.stdout.write(`ack put ${i}\n`);
    }
  }
}
await Promise.all(Array.from({ length: 32 }, worker));
