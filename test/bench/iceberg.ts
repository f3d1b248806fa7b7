/**
 * Iceberg figures (issue 19): export throughput into an Iceberg table beside the Parquet export
 * of the same events in the same run, and the cost of one commit on a table with 1,000 snapshots
 * beside one on a table with a single snapshot.
 *
 * @module
 */
import { openLog, SchemaRegistry } from '@strand/core';
import { exportParquet } from '@strand/core/export';
import { exportIceberg, ObjectStoreTableIO } from '@strand/iceberg';
import { InMemoryObjectStore } from '@strand/store-s3/testing';
import { z } from 'zod';
import { type BenchContext, type BenchSection, type Figure, median, timeMs } from './figure.js';

const Order = z.object({ orderId: z.string(), total: z.number(), items: z.number().int(), customer: z.object({ name: z.string(), vip: z.boolean() }), note: z.string().optional() });
const order = (i: number) => ({ orderId: `order-${i}`, total: i * 1.25, items: 1 + (i % 5), customer: { name: `customer-${i % 1000}`, vip: i % 10 === 0 }, ...(i % 3 === 0 ? { note: `n${i}` } : {}) });

async function exportRates(ctx: BenchContext, total: number): Promise<{ iceberg: number; parquet: number }> {
  const dir = await ctx.tmpdir('iceberg-log');
  const log = await openLog({ path: dir, durability: 'buffered' });
  const registry = await SchemaRegistry.open(log);
  await registry.register('OrderPlaced', 1, Order);
  for (let i = 0; i < total; i += 1000) {
    await log.appendMulti(Array.from({ length: 10 }, (_, k) => ({ stream: `orders/s-${(i / 10 + k) % 5000}`, events: Array.from({ length: 100 }, (_, j) => ({ type: 'OrderPlaced', data: order(i + k * 100 + j) })) })));
  }
  const iceberg: number[] = [];
  const parquet: number[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const pq = await ctx.tmpdir('parquet-out');
    // The same chunking on both sides: files of 200,000 rows (and a snapshot per file for Iceberg).
    parquet.push((total / (await timeMs(() => exportParquet(registry, { types: ['OrderPlaced'], dir: pq, rowsPerFile: 200_000 })))) * 1000);
    const table = await ctx.tmpdir('iceberg-out');
    iceberg.push((total / (await timeMs(() => exportIceberg(registry, { types: ['OrderPlaced'], table, rowsPerFile: 200_000, commitEvery: 200_000 })))) * 1000);
  }
  await log.close();
  return { iceberg: median(iceberg), parquet: median(parquet) };
}

/**
 * Milliseconds of single-event commits (median) on three tables side by side: one that has had
 * `snapshots` commits (all kept), one with a single snapshot, and one that has had `snapshots`
 * commits with `retainSnapshots: 100`. The commits alternate between the tables, so a busy
 * machine slows all three alike. Manifests merge past 100 per list on every table.
 */
async function commitMs(ctx: BenchContext, snapshots: number, measured: number): Promise<{ kept: number; single: number; retained: number }> {
  const log = await openLog({ memory: true });
  const registry = await SchemaRegistry.open(log);
  await registry.register('OrderPlaced', 1, Order);
  for (let i = 0; i < snapshots + measured; i++) await log.append(`orders/o-${i % 100}`, [{ type: 'OrderPlaced', data: order(i) }]);
  const store = new InMemoryObjectStore();
  const tables = [
    { name: 'kept', io: new ObjectStoreTableIO(store, 'bench', 'kept'), history: snapshots, keep: {}, times: [] as number[] },
    { name: 'single', io: new ObjectStoreTableIO(store, 'bench', 'single'), history: 1, keep: {}, times: [] as number[] },
    { name: 'retained', io: new ObjectStoreTableIO(store, 'bench', 'retained'), history: snapshots, keep: { retainSnapshots: 100 }, times: [] as number[] },
  ];
  // Events 1..history as one snapshot each; the measured commits then export the same later events.
  for (const t of tables) {
    if (t.history === 1) await exportIceberg(registry, { types: ['OrderPlaced'], table: t.io, to: snapshots });
    else await exportIceberg(registry, { types: ['OrderPlaced'], table: t.io, commitEvery: 1, to: snapshots, ...t.keep });
  }
  for (let i = 1; i <= measured; i++) {
    for (const t of tables) t.times.push(await timeMs(() => exportIceberg(registry, { types: ['OrderPlaced'], table: t.io, to: snapshots + i, ...t.keep })));
  }
  await log.close();
  for (const t of tables) ctx.log(`commit on the ${t.name} table (${t.history} commits before): median ${median(t.times).toFixed(2)} ms of ${t.times.map((x) => x.toFixed(1)).join(' ')}`);
  return { kept: median(tables[0]!.times), single: median(tables[1]!.times), retained: median(tables[2]!.times) };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const total = Math.max(20_000, Math.round(1_000_000 * ctx.scale / 1000) * 1000);
  const rates = await exportRates(ctx, total);
  const snapshots = Math.max(100, Math.round(1000 * ctx.scale));
  const measured = Math.max(9, ctx.runs * 6);
  const { kept: big, single: small, retained } = await commitMs(ctx, snapshots, measured);
  return [
    { id: 'iceberg.export.events_per_s', value: rates.iceberg, unit: 'events/s', reference: { name: 'Parquet export of the same events (exportParquet)', value: rates.parquet }, note: `${total} events of one type into a new table (200,000-row files, a snapshot per file), LevelDB log, local directory` },
    { id: 'iceberg.commit.ms', value: big, unit: 'ms', reference: { name: 'same commit on a table with 1 snapshot', value: small }, note: `one-event append commit (open, data file, manifest, manifest list, metadata) on a table with ${snapshots} snapshots, all kept (the metadata JSON grows with them; manifests merge past 100 per list), in-memory object store` },
    { id: 'iceberg.commit.retained_ms', value: retained, unit: 'ms', reference: { name: 'same commit on a table with 1 snapshot', value: small }, note: `the same commit after ${snapshots} commits with retainSnapshots: 100 (the metadata stays bounded)` },
  ];
}

/** The Iceberg section. */
export const iceberg: BenchSection = { name: 'iceberg', run };
