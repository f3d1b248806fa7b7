import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openLog, SchemaRegistry } from '@strand/core';
import { exportParquet } from '@strand/core/export';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appendOrders, OrderPlaced, Shipped } from '../support/orders.js';

// The exported files are read by a real query engine (DuckDB) and compared with the log.
describe('Parquet export, verified with DuckDB', () => {
  it('writes typed, flattened columns with the envelope, incrementally', async () => {
    const root = await mkdtemp(join(tmpdir(), 'strand-export-'));
    const log = await openLog({ path: join(root, 'log') });
    const duck = await DuckDBInstance.create();
    const db = await duck.connect();
    const rows = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJson();
    try {
      const registry = await SchemaRegistry.open(log);
      const Placed = await registry.register('OrderPlaced', 1, OrderPlaced);
      await registry.register('Shipped', 1, Shipped);
      const expectedTotal = await appendOrders(log, 250, (data) => Placed.event(data));
      const out = join(root, 'parquet');
      const first = await exportParquet(registry, { types: ['OrderPlaced', 'Shipped'], dir: out, name: 'bi', rowsPerFile: 100 });
      expect(first.files.map((f) => [f.type, f.rows])).toEqual([
        ['OrderPlaced', 100],
        ['OrderPlaced', 100],
        ['OrderPlaced', 50],
        ['Shipped', 25],
      ]);
      const [agg] = await rows(`select count(*) as n, sum(total) as total, sum(items) as items, count("customer.vip") as vips, count(note) as notes from read_parquet('${out}/OrderPlaced-*.parquet')`);
      expect(agg).toEqual({ n: '250', total: expectedTotal, items: String(Array.from({ length: 250 }, (_, k) => (k + 1) % 7).reduce((a, b) => a + b, 0)), vips: '83', notes: '62' });
      const [sample] = await rows(`select stream, version, position, "customer.name", status, tags, epoch_ms("at") as at, type, schema_version from read_parquet('${out}/OrderPlaced-*.parquet') where "orderId" = 'o-10'`);
      expect(sample).toMatchObject({ stream: 'orders/eu/o-10', version: '1', 'customer.name': 'c0', status: 'new', tags: '["x","y"]', at: String(Date.UTC(2026, 0, 1, 0, 0, 10)), type: 'OrderPlaced', schema_version: '1' });
      const log10 = [];
      for await (const e of log.readStream('orders/eu/o-10')) log10.push(e);
      expect(sample?.position).toBe(String(log10[0]?.position));
      const [ship] = await rows(`select count(*) as n, count(distinct carrier) as carriers from read_parquet('${out}/Shipped-*.parquet')`);
      expect(ship).toEqual({ n: '25', carriers: '1' });

      // Incremental: the second run continues where the first stopped.
      for (let i = 251; i <= 260; i++) await log.append(`orders/us/o-${i}`, [Placed.event({ orderId: `o-${i}`, total: 1, items: 1, status: 'new', at: new Date(0).toISOString(), customer: { name: 'z' }, tags: [] })]);
      const second = await exportParquet(registry, { types: ['OrderPlaced', 'Shipped'], dir: out, name: 'bi' });
      expect(second.from).toBe(first.to + 1);
      expect(second.files.map((f) => [f.type, f.rows])).toEqual([['OrderPlaced', 10]]);
      const [all] = await rows(`select count(*) as n, count(distinct position) as positions from read_parquet('${out}/OrderPlaced-*.parquet')`);
      expect(all).toEqual({ n: '260', positions: '260' });
      const none = await exportParquet(registry, { types: ['OrderPlaced'], dir: out, name: 'bi' });
      expect(none.files).toEqual([]);
      await expect(exportParquet(registry, { types: ['Nope'], dir: out })).rejects.toThrow(/not registered/);
    } finally {
      db.closeSync();
      await log.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('keeps a checkpoint per type: a type added to a named export is backfilled (issue 21 item 4)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'strand-export-add-'));
    const log = await openLog({ path: join(root, 'log') });
    const duck = await DuckDBInstance.create();
    const db = await duck.connect();
    const count = async (glob: string) => Number((await db.runAndReadAll(`select count(*) as n from read_parquet('${glob}')`)).getRowObjectsJson()[0]!.n);
    try {
      const registry = await SchemaRegistry.open(log);
      await registry.register('Placed', 1, z.object({ n: z.number() }));
      await registry.register('Paid', 1, z.object({ n: z.number() }));
      for (let i = 1; i <= 20; i++) await log.append(`orders/o-${i}`, [{ type: 'Placed', data: { n: i } }, { type: 'Paid', data: { n: i } }]);
      const out = join(root, 'parquet');
      await exportParquet(registry, { types: ['Placed'], dir: out, name: 'bi' });
      expect(await count(`${out}/Placed-*.parquet`)).toBe(20);
      // Paid joins the export later: its whole history is exported, and Placed is not repeated.
      for (let i = 21; i <= 25; i++) await log.append(`orders/o-${i}`, [{ type: 'Placed', data: { n: i } }, { type: 'Paid', data: { n: i } }]);
      const second = await exportParquet(registry, { types: ['Placed', 'Paid'], dir: out, name: 'bi' });
      expect(second.files.map((f) => [f.type, f.rows])).toEqual([
        ['Placed', 5],
        ['Paid', 25],
      ]);
      expect(await count(`${out}/Paid-*.parquet`)).toBe(25);
      expect(await count(`${out}/Placed-*.parquet`)).toBe(25);
      const third = await exportParquet(registry, { types: ['Placed', 'Paid'], dir: out, name: 'bi' });
      expect(third.files).toEqual([]);
    } finally {
      db.closeSync();
      await log.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
