/**
 * Aggregate figures (issue 4): load time with a snapshot vs full replay, command throughput
 * through the repository, and disk bytes before and after truncation plus compaction.
 *
 * @module
 */
import { AggregateRepository, defineAggregate } from '@strand/aggregate';
import { openLog } from '@strand/core';
import { z } from 'zod';
import { dirSize } from '@strand/core/testing';
import { type BenchContext, type BenchSection, type Figure, median, timeMs } from './figure.js';

/** The bench's aggregate: a counter whose commands carry a ~200-byte payload (also profiled by scripts/profile/workloads.mjs). */
export const Counter = defineAggregate({
  name: 'counter',
  stream: (id) => `counters/${id}`,
  commands: { Add: z.object({ n: z.number().int(), note: z.string() }) },
  events: { Added: z.object({ n: z.number().int(), note: z.string() }) },
  state: z.object({ total: z.number().int(), count: z.number().int() }),
  initialState: () => ({ total: 0, count: 0 }),
  decide: { Add: (c) => ({ type: 'Added', data: c }) },
  evolve: { Added: (s, e) => ({ total: s.total + e.n, count: s.count + 1 }) },
});

const note = 'x'.repeat(170);

async function loads(ctx: BenchContext): Promise<Figure[]> {
  const n = Math.max(1000, Math.round(100_000 * ctx.scale));
  const dir = await ctx.tmpdir('agg-load');
  const log = await openLog({ path: dir, durability: 'buffered' });
  for (let v = 0; v < n; v += 1000) {
    await log.append(
      'counters/big',
      Array.from({ length: Math.min(1000, n - v) }, (_, k) => ({ type: 'Added', data: { n: v + k, note } })),
    );
  }
  // Load figures measure the snapshot and replay paths, not the folded-state cache.
  const plain = new AggregateRepository(log, Counter, { stateCacheSize: 0 });
  const full: number[] = [];
  for (let r = 0; r < ctx.runs; r++) full.push(await timeMs(() => plain.load('big')));
  await plain.snapshot('big');
  const withSnap: number[] = [];
  for (let r = 0; r < Math.max(ctx.runs, 20); r++) {
    withSnap.push(
      await timeMs(async () => {
        const l = await plain.load('big');
        if (l.replayed !== 0 || l.state.count !== n) throw new Error('snapshot load did not use the snapshot');
      }),
    );
  }
  await plain.close();

  // Disk before and after truncation plus compaction.
  await log.close();
  const before = await dirSize(dir);
  const log2 = await openLog({ path: dir });
  const trunc = new AggregateRepository(log2, Counter, { retention: { mode: 'truncate' } });
  await log2.append('counters/big', [{ type: 'Added', data: { n: 0, note } }]);
  await trunc.snapshot('big');
  await trunc.close();
  await log2.close();
  const after = await dirSize(dir);
  return [
    {
      id: 'aggregate.load_snapshot_100k.ms',
      value: median(withSnap),
      unit: 'ms',
      reference: { name: `full replay of the same ${n} events`, value: median(full) },
      note: `load an aggregate of ${n} events from its snapshot (target < 2 ms, independent of history)`,
    },
    { id: 'aggregate.truncation.disk_mb', value: after / 2 ** 20, unit: 'MB', reference: { name: 'before truncation + compaction', value: before / 2 ** 20 }, note: `store size after truncating ${n} events behind a snapshot` },
  ];
}

async function throughput(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(2000, Math.round(20_000 * ctx.scale));
  const rates: number[] = [];
  const rawRates: number[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const log = await openLog({ path: await ctx.tmpdir('agg-cmd') });
    const repo = new AggregateRepository(log, Counter);
    let next = 0;
    const ms = await timeMs(() =>
      Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = next++; i < total; i = next++) await repo.handle(`c-${i % 1000}`, { type: 'Add', data: { n: i, note } });
        }),
      ),
    );
    rates.push((total / ms) * 1000);
    await repo.close();
    // Reference: the same appends straight to the log (no load, no decide).
    let k = 0;
    const rawMs = await timeMs(() =>
      Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = k++; i < total; i = k++) await log.append(`raw/c-${i % 1000}`, [{ type: 'Added', data: { n: i, note } }]);
        }),
      ),
    );
    rawRates.push((total / rawMs) * 1000);
    await log.close();
  }
  return [
    {
      id: 'aggregate.commands_per_s',
      value: median(rates),
      unit: 'commands/s',
      reference: { name: 'plain log appends, same shape (no load/decide)', value: median(rawRates) },
      note: `${total} commands over 1,000 aggregates, 32 in flight, durable, no snapshots`,
    },
  ];
}

/** The aggregate section. */
export const aggregate: BenchSection = {
  name: 'aggregate',
  async run(ctx) {
    return [...(await loads(ctx)), ...(await throughput(ctx))];
  },
};
