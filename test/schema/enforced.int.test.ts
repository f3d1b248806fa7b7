import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregateRepository, defineAggregate, ensure } from '@strand/aggregate';
import { type EventLog, openLog, SchemaRegistry } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { errorCode } from '@strand/core/testing';
import { openS3Log } from '@strand/store-s3';
import { InMemoryObjectStore } from '@strand/store-s3/testing';
import { MemoryLevel } from 'memory-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

// Issue 21 item 1: the log itself enforces the schema registry stored in it, whichever process
// opens it and whatever path the append takes; a stored event that fails its schema says so.

const StockReceived = z.object({ sku: z.string(), qty: z.number().int().positive() });

/** What the application does at start-up: register and bind its types. */
async function registerStock(log: EventLog): Promise<void> {
  const registry = await SchemaRegistry.open(log);
  await registry.register('StockReceived', 1, StockReceived);
  await registry.bind('stock/>', ['StockReceived']);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-enforced-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('schemas enforced by the log itself (issue 21 item 1)', () => {
  it('a plain openLog() + append in another process validates against the stored registry', async () => {
    const app = await openLog({ path: dir });
    await registerStock(app);
    await app.close();
    // A second process (a script, the CLI) that never opens the registry.
    const other = await openLog({ path: dir });
    try {
      expect(await errorCode(other.append('stock/WIDGET-1', [{ type: 'StockReceived', data: { sku: 'W', qty: -5 } }]))).toBe('STRAND_SCHEMA_VALIDATION');
      expect(await errorCode(other.append('stock/WIDGET-1', [{ type: 'Bogus', data: {} }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
      expect(await errorCode(other.appendMulti([{ stream: 'stock/WIDGET-2', events: [{ type: 'StockReceived', data: { sku: 'W', qty: 0 } }] }]))).toBe('STRAND_SCHEMA_VALIDATION');
      expect(other.position).toBe(0);
      const ok = await other.append('stock/WIDGET-1', [{ type: 'StockReceived', data: { sku: 'W', qty: 5 } }]);
      expect(ok.events[0]?.schemaVersion).toBe(1);
      // Opening the registry in that process gives the one the log enforces (validation runs once).
      expect(await SchemaRegistry.open(other)).toBe(await SchemaRegistry.open(other));
    } finally {
      await other.close();
    }
  });

  it('on S3: a writer reopened without the registry code enforces it', async () => {
    const objectStore = new InMemoryObjectStore();
    const url = 's3://bucket/stock-log/';
    const first = await openS3Log(url, { objectStore, engine: { compaction: false, gc: false } });
    await registerStock(first.log);
    await first.log.close();
    const second = await openS3Log(url, { objectStore, engine: { compaction: false, gc: false } });
    try {
      expect(await errorCode(second.log.append('stock/W', [{ type: 'StockReceived', data: { sku: 'W', qty: -5 } }]))).toBe('STRAND_SCHEMA_VALIDATION');
    } finally {
      await second.log.close();
    }
  });

  it('in a tenant: a reopened manager enforces each tenant\'s stored registry', async () => {
    const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
    let tenants = await TenantManager.open({ store: db });
    await tenants.createTenant('acme');
    await registerStock((await tenants.tenant('acme')).log);
    await tenants.close();
    tenants = await TenantManager.open({ store: db });
    try {
      const { apiKey } = await tenants.createPrincipal('acme', [{ permission: 'append', pattern: 'stock/>' }]);
      const client = tenants.authenticate(apiKey);
      expect(await errorCode(client.append('stock/W', [{ type: 'StockReceived', data: { sku: 'W', qty: -5 } }]))).toBe('STRAND_SCHEMA_VALIDATION');
      expect(await errorCode(client.append('stock/W', [{ type: 'Bogus', data: {} }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
    } finally {
      await tenants.close();
      await db.close();
    }
  });

  it('a stored event that fails its schema is reported as such, not blamed on decide, and can be repaired', async () => {
    const Stock = defineAggregate({
      name: 'stock',
      stream: (id) => `stock/${id}`,
      commands: { Receive: z.object({ qty: z.number().int().positive() }), Ship: z.object({ qty: z.number().int().positive() }) },
      events: { StockReceived, StockShipped: z.object({ sku: z.string(), qty: z.number().int().positive() }) },
      state: z.object({ onHand: z.number().int() }),
      initialState: () => ({ onHand: 0 }),
      decide: {
        Receive: (c, _s, ctx) => ({ type: 'StockReceived', data: { sku: ctx.id, qty: c.qty } }),
        Ship: (c, s, ctx) => {
          ensure(s.onHand >= c.qty, 'OUT_OF_STOCK', 'Not enough stock.');
          return { type: 'StockShipped', data: { sku: ctx.id, qty: c.qty } };
        },
      },
      evolve: {
        StockReceived: (s, e) => ({ onHand: s.onHand + e.qty }),
        StockShipped: (s, e) => ({ onHand: s.onHand - e.qty }),
      },
    });
    // A log that never had a registry: a bad event gets in (as before any schema existed).
    const log = await openLog({ path: dir });
    try {
      const stock = new AggregateRepository(log, Stock);
      await stock.handle('W', { type: 'Receive', data: { qty: 10 } });
      await log.append('stock/W', [{ type: 'StockReceived', data: { sku: 'W', qty: -5 } }]);
      let error: unknown;
      try {
        await stock.load('W');
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string }).code).toBe('STRAND_STORED_EVENT_INVALID');
      expect((error as Error).message).toMatch(/Stored event StockReceived at "stock\/W" version 2/);
      expect((error as Error).message).toMatch(/decide\(\) is not at fault/);
      expect((error as Error).message).not.toMatch(/decide produced/);
      expect((error as { details: Record<string, unknown> }).details).toMatchObject({ stream: 'stock/W', version: 2, type: 'StockReceived' });
      // The documented way out: a repair (here: skip the bad event) plus a compensating event.
      const Repaired = defineAggregate({ ...Stock.definition, repair: { StockReceived: (data) => ((data as { qty: number }).qty > 0 ? data : null) } });
      const repaired = new AggregateRepository(log, Repaired);
      expect((await repaired.load('W')).state.onHand).toBe(10);
      await repaired.handle('W', { type: 'Ship', data: { qty: 3 } });
      expect((await repaired.load('W')).state.onHand).toBe(7);
      await stock.close();
      await repaired.close();
    } finally {
      await log.close();
    }
  });
});
