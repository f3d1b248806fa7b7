/**
 * Projection figures (issue 5): catch-up throughput of a counting projection, append-and-confirm
 * latency (read-your-writes), and live fan-out to 100 pattern subscriptions.
 *
 * @module
 */
import { ClassicLevel } from 'classic-level';
import { openLog } from '@strand/core';
import { appendAndConfirm, defineProjection, ProjectionRunner } from '@strand/projections';
import { type BenchContext, type BenchSection, type Figure, median, payload, percentile, timeMs } from './figure.js';

const counting = defineProjection({
  name: 'counting',
  patterns: ['orders/>'],
  handlers: { '*': (e, tx) => tx.update<number>('perStream', e.stream, (n) => (n ?? 0) + 1) },
});

async function catchup(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(10_000, Math.round(1_000_000 * ctx.scale));
  const dir = await ctx.tmpdir('proj-catchup');
  const log = await openLog({ path: dir, durability: 'buffered' });
  for (let i = 0; i < total; i += 1000) {
    await log.appendMulti(Array.from({ length: 10 }, (_, k) => ({ stream: `orders/s-${(i / 10 + k) % 2000}`, events: Array.from({ length: Math.min(100, total - i - k * 100) }, (_, j) => ({ type: 'Placed', data: payload(i + k * 100 + j) })) })).filter((p) => p.events.length > 0));
  }
  // Settled before reading, as the core section's reads (core.ts): not LevelDB compacting the bulk load meanwhile.
  await log.compact();
  const rates: number[] = [];
  for (let r = 0; r < Math.min(ctx.runs, 3); r++) {
    const p = defineProjection({ ...counting, name: `counting${r}` });
    const runner = new ProjectionRunner(log, p, { batchSize: 5000, concurrency: 64 });
    const ms = await timeMs(async () => {
      await runner.start();
      await runner.waitFor(total, { timeoutMs: 600_000 });
    });
    await runner.stop();
    rates.push((total / ms) * 1000);
  }
  await log.close();
  // Reference: raw classic-level iterating the same store's values.
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const raw: number[] = [];
  for (let r = 0; r < Math.min(ctx.runs, 3); r++) {
    raw.push(
      (total /
        (await timeMs(async () => {
          let n = 0;
          for await (const _ of db.values({ gte: Uint8Array.of(0x20), lt: Uint8Array.of(0x21) })) n++;
          if (n !== total) throw new Error(`raw read ${n}`);
        }))) *
        1000,
    );
  }
  await db.close();
  return [
    {
      id: 'projection.catchup.events_per_s',
      value: median(rates),
      unit: 'events/s',
      reference: { name: 'raw classic-level iterating the same events', value: median(raw) },
      note: `counting projection over ${total} events on 2,000 streams, checkpoints every 5,000 (target >= 200,000)`,
    },
  ];
}

async function ryw(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(200, Math.round(2000 * ctx.scale));
  const log = await openLog({ path: await ctx.tmpdir('proj-ryw') });
  const runner = new ProjectionRunner(log, counting);
  await runner.start();
  const lat: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await appendAndConfirm(log, [runner], `orders/s-${i % 100}`, [{ type: 'Placed', data: payload(i) }]);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const t1 = process.hrtime.bigint();
    await log.append(`plain/s-${i % 100}`, [{ type: 'Placed', data: payload(i) }]);
    plain.push(Number(process.hrtime.bigint() - t1) / 1e6);
  }
  await runner.stop();
  await log.close();
  const ref = 'plain durable append, same run';
  return [
    { id: 'projection.ryw.p50_ms', value: percentile(lat, 50), unit: 'ms', reference: { name: ref, value: percentile(plain, 50) }, note: `append + wait for an async projection, ${n} sequential (target p50 < 2 ms)` },
    { id: 'projection.ryw.p99_ms', value: percentile(lat, 99), unit: 'ms', reference: { name: ref, value: percentile(plain, 99) }, note: 'same, p99' },
  ];
}

async function fanout(ctx: BenchContext): Promise<Figure[]> {
  const events = Math.max(2000, Math.round(20_000 * ctx.scale));
  const log = await openLog({ path: await ctx.tmpdir('proj-fanout'), durability: 'buffered' });
  let delivered = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const expected = events * 100;
  const subs = Array.from({ length: 100 }, (_, i) =>
    log.subscribe(i % 2 === 0 ? 'orders/>' : `orders/*`, { from: 'end' }).subscribe(() => {
      if (++delivered === expected) resolveAll();
    }),
  );
  const ms = await timeMs(async () => {
    for (let i = 0; i < events; i += 100) await log.append(`orders/s-${i % 500}`, Array.from({ length: 100 }, (_, k) => ({ type: 'Placed', data: payload(i + k) })));
    await all;
  });
  for (const s of subs) s.unsubscribe();
  await log.close();
  return [{ id: 'projection.fanout.events_per_s', value: (expected / ms) * 1000, unit: 'deliveries/s', note: `${events} events appended live, each delivered to 100 pattern subscriptions` }];
}

/** The projections section. */
export const projections: BenchSection = {
  name: 'projections',
  async run(ctx) {
    return [...(await catchup(ctx)), ...(await ryw(ctx)), ...(await fanout(ctx))];
  },
};
