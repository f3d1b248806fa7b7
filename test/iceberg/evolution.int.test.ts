import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStrandError, openLog, SchemaRegistry } from '@strand/core';
import { exportIceberg, FileTableIO, IcebergTable } from '@strand/iceberg';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { metadataProblems, serveTables } from '../support/iceberg.js';

describe('Iceberg schema evolution from the registry', () => {
  let root: string;
  let restore: () => void;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'strand-iceberg-evo-'));
    restore = serveTables();
  });
  afterAll(async () => {
    restore();
    await rm(root, { recursive: true, force: true });
  });

  it('v1 then v2 with a new optional field and a widened integer: a new schema id, nulls for v1 rows; an inexpressible v3 is refused', async () => {
    const log = await openLog({ path: join(root, 'log') });
    const dir = join(root, 'orders');
    const io = new FileTableIO(dir);
    try {
      const registry = await SchemaRegistry.open(log);
      await registry.register('Order', 1, z.object({ orderId: z.string(), qty: z.int32() }));
      for (let i = 0; i < 10; i++) await log.append(`o/${i}`, [{ type: 'Order', data: { orderId: `a${i}`, qty: i } }]);
      await exportIceberg(registry, { types: ['Order'], table: dir });
      const v1 = (await IcebergTable.load(io))!.metadata;
      const qty1 = v1.schemas[0]!.fields.find((f) => f.name === 'qty')!;
      expect(qty1.type).toBe('int');

      await registry.register('Order', 2, z.object({ orderId: z.string(), qty: z.number().int(), note: z.string().optional() }));
      for (let i = 0; i < 10; i++) await log.append(`o/${i}`, [{ type: 'Order', data: { orderId: `b${i}`, qty: 3_000_000_000 + i, ...(i % 2 ? { note: `n${i}` } : {}) } }]);
      await exportIceberg(registry, { types: ['Order'], table: dir });
      const m = (await IcebergTable.load(io))!.metadata;
      expect(metadataProblems(m as unknown as Record<string, unknown>)).toEqual([]);
      expect(m.schemas.map((s) => s['schema-id'])).toEqual([0, 1]);
      expect(m['current-schema-id']).toBe(1);
      expect(m.snapshots.map((s) => s['schema-id'])).toEqual([0, 1]);
      const s1 = m.schemas[1]!;
      const qty2 = s1.fields.find((f) => f.name === 'qty')!;
      const note = s1.fields.find((f) => f.name === 'note')!;
      expect(qty2).toMatchObject({ id: qty1.id, type: 'long' });
      expect(note).toMatchObject({ required: false, type: 'string', id: m['last-column-id'] });
      expect(note.id).toBeGreaterThan(Math.max(...v1.schemas[0]!.fields.map((f) => f.id)));

      const rows = await icebergRead({ tableUrl: io.location });
      expect(rows).toHaveLength(20);
      const byOrder = new Map(rows.map((r) => [r.orderId as string, r]));
      for (let i = 0; i < 10; i++) {
        const a = byOrder.get(`a${i}`)!;
        expect(Number(a.qty)).toBe(i);
        expect(a.note ?? null, 'v1 rows have no value for the v2 field').toBeNull();
        expect(a.schema_version).toBe(1);
        const b = byOrder.get(`b${i}`)!;
        expect(b.qty).toBe(BigInt(3_000_000_000 + i));
        expect(b.note ?? null).toBe(i % 2 ? `n${i}` : null);
        expect(b.schema_version).toBe(2);
      }

      // integer -> number is backward compatible in JSON Schema, but long -> double is no Iceberg promotion.
      await registry.register('Order', 3, z.object({ orderId: z.string(), qty: z.number(), note: z.string().optional() }));
      await log.append('o/x', [{ type: 'Order', data: { orderId: 'c', qty: 1.5 } }]);
      const version = (await IcebergTable.load(io))!.version;
      const files = (await io.list('data/')).length;
      const error = await exportIceberg(registry, { types: ['Order'], table: dir }).catch((e: unknown) => e);
      expect(isStrandError(error, 'STRAND_ICEBERG_SCHEMA_INCOMPATIBLE')).toBe(true);
      expect((error as { problems: string[] }).problems).toEqual([`column qty (id ${qty1.id}) would change from long to double`]);
      const after = (await IcebergTable.load(io))!;
      expect(after.version, 'nothing was committed').toBe(version);
      expect((await io.list('data/')).length, 'no data file was written').toBe(files);
    } finally {
      await log.close();
    }
  });
});
