import { type EventLog, openLog } from '@strand/core';
import { defineProjection, ProjectionRunner } from '@strand/projections';
import { s3Archive } from '@strand/store-s3';
import { InMemoryObjectStore } from '@strand/store-s3/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// Issue 21 item 2: a projection over streams whose history was truncated is never silently
// wrong: it reads through an archive, or parks the stream with STRAND_STREAM_TRUNCATED, unless
// it declared how to start truncated streams. Item 22: per-stream version keys stay bounded.

let log: EventLog;
beforeEach(async () => {
  log = await openLog({ memory: true });
});
afterEach(() => log.close());

const totals = (name: string, truncated?: 'park' | 'from-first-kept') =>
  defineProjection({
    name,
    patterns: ['stock/>'],
    ...(truncated === undefined ? {} : { truncated }),
    handlers: { Received: (e, tx) => tx.update<{ qty: number }>('totals', e.stream, (d) => ({ qty: (d?.qty ?? 0) + (e.data as { qty: number }).qty })) },
  });

/** 40 events of 58 on stock/A (sum 2,320), truncated before version 31 after archiving 1..30; stock/B untouched. */
async function history(archive?: ReturnType<typeof s3Archive>): Promise<void> {
  for (let i = 0; i < 40; i++) await log.append('stock/A', [{ type: 'Received', data: { qty: 58 } }]);
  await log.append('stock/B', [{ type: 'Received', data: { qty: 7 } }]);
  if (archive) {
    const old = [];
    for await (const e of log.readStream('stock/A', { limit: 30 })) old.push(e);
    await archive.archive('stock/A', old);
  }
  await log.truncateBefore('stock/A', 31);
}

describe('projections over truncated streams (issue 21 item 2)', () => {
  it('a new projection parks a truncated stream it cannot read in full, and says why', async () => {
    await history();
    const runner = new ProjectionRunner(log, totals('fresh'), { logger: { debug() {}, info() {}, warn() {}, error() {} } });
    await runner.start();
    await runner.waitFor(log.position);
    expect(await runner.view().get('totals', 'stock/A')).toBeUndefined();
    expect(await runner.view().get('totals', 'stock/B')).toEqual({ qty: 7 });
    const [parked] = runner.parked();
    expect(parked).toMatchObject({ stream: 'stock/A', version: 31, code: 'STRAND_STREAM_TRUNCATED' });
    expect(parked?.error).toMatch(/truncated before the projection saw them/);
    await runner.stop();
  });

  it('parks a stream truncated before the projection reached it, even when the checkpoint passed its positions first and across a restart', async () => {
    // stock/A's whole history (positions 1..30) is truncated; other streams' events follow it.
    for (let i = 0; i < 30; i++) await log.append('stock/A', [{ type: 'Received', data: { qty: 58 } }]);
    for (let i = 0; i < 30; i++) await log.append(`other/${i}`, [{ type: 'Noted', data: {} }]);
    await log.truncateBefore('stock/A', 31);
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const first = new ProjectionRunner(log, totals('late'), { logger: quiet });
    await first.start();
    await first.waitFor(log.position);
    expect((await first.status()).position).toBe(60);
    await first.stop();
    // The checkpoint (60) is past the truncated positions; the stream's next event comes now.
    await log.append('stock/A', [{ type: 'Received', data: { qty: 1 } }]);
    const again = new ProjectionRunner(log, totals('late'), { logger: quiet });
    await again.start();
    await again.waitFor(log.position);
    expect(await again.view().get('totals', 'stock/A')).toBeUndefined();
    expect(again.parked()).toMatchObject([{ stream: 'stock/A', version: 31, code: 'STRAND_STREAM_TRUNCATED' }]);
    // Nothing holds the history: a retry leaves it parked; a skip goes on from the parked event.
    expect(await again.retry('stock/A')).toBe(false);
    expect(again.parked()).toHaveLength(1);
    expect(await again.skip('stock/A')).toBe(true);
    expect(await again.view().get('totals', 'stock/A')).toEqual({ qty: 1 });
    await again.stop();
  });

  it('a retry reads the archive given after the stream was parked', async () => {
    const archive = s3Archive(new InMemoryObjectStore(), 'archive/');
    await history(archive);
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const blind = new ProjectionRunner(log, totals('later'), { logger: quiet });
    await blind.start();
    await blind.waitFor(log.position);
    expect(blind.parked()).toHaveLength(1);
    await blind.stop();
    const seeing = new ProjectionRunner(log, totals('later'), { archive });
    await seeing.start();
    expect(await seeing.retry('stock/A')).toBe(true);
    await seeing.waitFor(log.position);
    expect(await seeing.view().get('totals', 'stock/A')).toEqual({ qty: 2320 });
    await seeing.stop();
  });

  it('reads the truncated history through the archive: the totals are right', async () => {
    const archive = s3Archive(new InMemoryObjectStore(), 'archive/');
    await history(archive);
    const runner = new ProjectionRunner(log, totals('archived'), { archive });
    await runner.start();
    await runner.waitFor(log.position);
    expect(await runner.view().get('totals', 'stock/A')).toEqual({ qty: 2320 });
    expect(runner.parked()).toEqual([]);
    // A rebuild reads through it too.
    await runner.rebuild();
    expect(await runner.view().get('totals', 'stock/A')).toEqual({ qty: 2320 });
    await runner.stop();
  });

  it('starts from the first kept event when the projection declares it', async () => {
    await history();
    const runner = new ProjectionRunner(log, totals('kept', 'from-first-kept'));
    await runner.start();
    await runner.waitFor(log.position);
    expect(await runner.view().get('totals', 'stock/A')).toEqual({ qty: 10 * 58 });
    expect(runner.parked()).toEqual([]);
    await runner.stop();
  });

  it('a projection that saw the history before it was truncated is not disturbed, across restarts', async () => {
    const runner = new ProjectionRunner(log, totals('live'));
    await runner.start();
    for (let i = 0; i < 40; i++) await log.append('stock/A', [{ type: 'Received', data: { qty: 58 } }]);
    await runner.waitFor(log.position);
    await runner.stop();
    await log.truncateBefore('stock/A', 41);
    await log.append('stock/A', [{ type: 'Received', data: { qty: 1 } }]);
    const again = new ProjectionRunner(log, totals('live'));
    await again.start();
    await again.waitFor(log.position);
    expect(again.parked()).toEqual([]);
    expect(await again.view().get('totals', 'stock/A')).toEqual({ qty: 2321 });
    await again.stop();
  });
});

describe('projection version keys stay bounded (issue 21 item 22)', () => {
  it('keys of streams at or below the checkpoint are pruned', async () => {
    const runner = new ProjectionRunner(log, totals('bounded'), { batchSize: 50 });
    await runner.start();
    const meta = log.sublevel('proj-bounded-g0');
    let most = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(`stock/r${round}-${i}`, [{ type: 'Received', data: { qty: 1 } }])));
      await runner.waitFor(log.position);
      most = Math.max(most, (await meta.keys({ gte: 'v:', lt: 'v;' }).all()).length);
    }
    // 1,000 streams were projected; once caught up, no version key is needed.
    expect((await meta.keys({ gte: 'v:', lt: 'v;' }).all()).length).toBe(0);
    expect(most).toBeLessThan(200);
    await runner.stop();
    expect(await runner.view().get('totals', 'stock/r9-99')).toEqual({ qty: 1 });
  });
});
