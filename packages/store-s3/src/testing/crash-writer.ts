/**
 * Child process of the crash test: writes durably to S3Level on the test RGW and prints one line
 * per acknowledged write (`ack put <i>` / `ack batch <i>`, then the most WAL PUTs it had in flight),
 * until its parent kills it.
 *
 *   node --import tsx crash-writer.ts <prefix> ['{"options":{"walPutsInFlight":4},"jitterMs":2}']
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Level, type S3LevelOptions } from '../s3-level.js';
import { ensureRgw, rgwStore } from './rgw.js';

const prefix = process.argv[2];
if (!prefix) throw new Error('usage: crash-writer.ts <prefix> [{"options": S3Level options, "jitterMs": n}]');
const { options = {}, jitterMs = 0 } = JSON.parse(process.argv[3] ?? '{}') as {
  options?: Partial<S3LevelOptions<string, string>>;
  jitterMs?: number;
};
const store = rgwStore(await ensureRgw());
const db = new S3Level<string, string>({ store, prefix, flushIntervalMs: 10, memtableBytes: 64 * 1024, l0CompactionTrigger: 3, ...options });
await db.open();
process.stdout.write('ready\n');

let next = 0;
async function worker(): Promise<void> {
  for (;;) {
    // Writers that pause at random stop moving in lockstep, so writes keep arriving while WAL
    // PUTs are in flight (load shaping, not synchronisation).
    if (jitterMs > 0) await sleep(Math.random() * jitterMs);
    const i = next++;
    if (i % 4 === 0) {
      // An atomic batch: after the crash its three keys are all there or none is.
      await db.batch(
        [1, 2, 3].map((j) => ({ type: 'put' as const, key: `batch/${i}/${j}`, value: `b${i}` })),
        { sync: true } as never,
      );
      process.stdout.write(`ack batch ${i} ${db.engineStats?.walPutsInFlightMax}\n`);
    } else {
      await db.put(`put/${i}`, `v${i}-${'x'.repeat(i % 100)}`, { sync: true } as never);
      process.stdout.write(`ack put ${i} ${db.engineStats?.walPutsInFlightMax}\n`);
    }
  }
}
await Promise.all(Array.from({ length: 32 }, worker));
