import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arbitraryFromZod } from '@strand/aggregate/testing';
import { compatibilityProblems, type EventLog, isStrandError, openLog, SchemaRegistry, SchemaValidationError } from '@strand/core';
import { collect, errorCode } from '@strand/core/testing';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

let dir: string;
let log: EventLog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-schema-'));
  log = await openLog({ path: dir });
});
afterEach(async () => {
  await log.close();
  await rm(dir, { recursive: true, force: true });
});


const PlacedV1 = z.object({ orderId: z.string().min(1), total: z.number().nonnegative(), lines: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })) });

describe('schema registry', () => {
  it('validates appends, lists every zod issue with its path, and writes nothing on failure', async () => {
    const registry = await SchemaRegistry.open(log);
    const Placed = await registry.register('OrderPlaced', 1, PlacedV1);
    const ok = await log.append('orders/eu/1', [Placed.event({ orderId: 'o1', total: 5, lines: [{ sku: 'a', qty: 1 }] })]);
    expect(ok.events[0]?.schemaVersion).toBe(1);
    const before = log.position;
    const err = await log.append('orders/eu/1', [{ type: 'OrderPlaced', data: { orderId: '', total: -1, lines: [{ sku: 'a', qty: 0 }] } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaValidationError);
    expect((err as SchemaValidationError).issues.map((i) => i.path).sort()).toEqual(['lines.0.qty', 'orderId', 'total']);
    expect(log.position).toBe(before);
  });

  it('binds stream patterns to event types', async () => {
    const registry = await SchemaRegistry.open(log);
    await registry.register('OrderPlaced', 1, PlacedV1);
    await registry.register('Shipped', 1, z.object({ orderId: z.string() }));
    await registry.bind('orders/>', ['OrderPlaced']);
    expect(await errorCode(log.append('orders/eu/2', [{ type: 'Shipped', data: { orderId: 'x' } }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
    expect(await errorCode(log.append('shipping/eu/2', [{ type: 'Shipped', data: { orderId: 'x' } }]))).toBe('ok');
    expect(await errorCode(log.append('other/x', [{ type: 'Free', data: 1 }]))).toBe('ok');
  });

  it('checks evolution, refuses incompatible changes with reasons, and upcasts old events on read', async () => {
    const registry = await SchemaRegistry.open(log);
    await registry.register('OrderPlaced', 1, PlacedV1);
    await log.append('orders/eu/3', [{ type: 'OrderPlaced', data: { orderId: 'o3', total: 10, lines: [] } }]);
    // v2 adds an optional field: backward compatible.
    const V2 = PlacedV1.extend({ currency: z.enum(['EUR', 'USD']).optional() });
    await registry.register('OrderPlaced', 2, V2);
    // v3 makes currency required and renames total: incompatible without an upcaster.
    const V3 = z.object({ orderId: z.string().min(1), amount: z.object({ value: z.number().nonnegative(), currency: z.enum(['EUR', 'USD']) }), lines: PlacedV1.shape.lines });
    const refused = await registry.register('OrderPlaced', 3, V3).catch((e: unknown) => e);
    expect(isStrandError(refused, 'STRAND_INCOMPATIBLE_SCHEMA')).toBe(true);
    expect(String((refused as Error).message)).toMatch(/amount: is now required/);
    expect(String((refused as Error).message)).toMatch(/total: field removed/);
    await registry.register('OrderPlaced', 3, V3, {
      upcast: (d) => {
        const v2 = d as z.infer<typeof V2>;
        return { orderId: v2.orderId, lines: v2.lines, amount: { value: v2.total, currency: v2.currency ?? 'EUR' } };
      },
    });
    registry.upcast('OrderPlaced', 1, (d) => d);
    const [e] = await collect(log.readStream('orders/eu/3'));
    expect(e?.schemaVersion).toBe(3);
    expect(e?.data).toEqual({ orderId: 'o3', lines: [], amount: { value: 10, currency: 'EUR' } });
    expect(await errorCode(registry.register('OrderPlaced', 2, PlacedV1))).toBe('STRAND_SCHEMA_CONFLICT');
    expect(await errorCode(registry.register('OrderPlaced', 5, V3))).toBe('STRAND_SCHEMA_CONFLICT');
  });

  it('is stored in the log: another process knows every schema without registering it', async () => {
    const registry = await SchemaRegistry.open(log);
    await registry.register('OrderPlaced', 1, PlacedV1);
    await registry.bind('orders/>', ['OrderPlaced']);
    registry.close();
    await log.close();
    log = await openLog({ path: dir });
    const again = await SchemaRegistry.open(log);
    expect(again.latest('OrderPlaced')).toBe(1);
    expect(await errorCode(log.append('orders/x', [{ type: 'OrderPlaced', data: { orderId: 'o', total: 'x', lines: [] } }]))).toBe('STRAND_SCHEMA_VALIDATION');
    expect(await errorCode(log.append('orders/x', [{ type: 'Other', data: {} }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
    expect(await errorCode(log.append('orders/x', [{ type: 'OrderPlaced', data: { orderId: 'o', total: 1, lines: [] } }]))).toBe('ok');
  });

  it('upcasts every valid v1 value to a valid latest value (property)', async () => {
    const registry = await SchemaRegistry.open(log);
    const V1 = z.object({ name: z.string(), age: z.number().int().min(0).max(150) });
    const V2 = z.object({ name: z.string(), age: z.number().int().min(0).max(150), tags: z.array(z.string()).optional() });
    const V3 = z.object({ fullName: z.string(), years: z.number().int().min(0).max(150), tags: z.array(z.string()) });
    await registry.register('Person', 1, V1);
    await registry.register('Person', 2, V2);
    await registry.register('Person', 3, V3, { upcast: (d) => ({ fullName: (d as z.infer<typeof V2>).name, years: (d as z.infer<typeof V2>).age, tags: (d as z.infer<typeof V2>).tags ?? [] }) });
    registry.upcast('Person', 1, (d) => d);
    fc.assert(
      fc.property(arbitraryFromZod(V1), (v1) => {
        const { data, version } = registry.upcastData('Person', 1, v1);
        return version === 3 && V3.safeParse(data).success;
      }),
    );
  });

  it('refuses incompatible and accepts compatible generated schema pairs (property)', () => {
    type Field = { name: string; kind: 'string' | 'number' | 'boolean'; optional: boolean };
    const field = fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd', 'e'), kind: fc.constantFrom<Field['kind']>('string', 'number', 'boolean'), optional: fc.boolean() });
    const fields = fc.uniqueArray(field, { selector: (f) => f.name, minLength: 1, maxLength: 4 });
    const base = (k: Field['kind']) => (k === 'string' ? z.string() : k === 'number' ? z.number() : z.boolean());
    const zodOf = (fs: Field[]) => z.object(Object.fromEntries(fs.map((f) => [f.name, f.optional ? base(f.kind).optional() : base(f.kind)])));
    const json = (fs: Field[]) => z.toJSONSchema(zodOf(fs), { io: 'input' }) as never;
    fc.assert(
      fc.property(fields, fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.constantFrom<Field['kind']>('string', 'number', 'boolean'), (fs, extra, kind) => {
        if (fs.some((f) => f.name === extra)) return;
        // Adding an optional field is backward compatible...
        expect(compatibilityProblems(json(fs), json([...fs, { name: extra, kind, optional: true }]), 'backward')).toEqual([]);
        // ...adding a required one is not, and neither is changing a field's type or removing a field.
        expect(compatibilityProblems(json(fs), json([...fs, { name: extra, kind, optional: false }]), 'backward').length).toBeGreaterThan(0);
        const changed = fs.map((f, i) => (i === 0 ? { ...f, kind: f.kind === 'string' ? ('number' as const) : ('string' as const) } : f));
        expect(compatibilityProblems(json(fs), json(changed), 'full').length).toBeGreaterThan(0);
        if (fs.length > 1) expect(compatibilityProblems(json(fs), json(fs.slice(1)), 'backward').length).toBeGreaterThan(0);
      }),
    );
  });

  it('is sound: when a change is called backward compatible, old values pass the new schema (property)', () => {
    const base = z.object({ id: z.string(), n: z.number().int().min(0).max(10), e: z.enum(['x', 'y']), o: z.object({ s: z.string().max(5) }).optional() });
    const variants = [
      base.extend({ extra: z.string().optional() }),
      base.extend({ n: z.number() }),
      base.extend({ e: z.enum(['x', 'y', 'z']) }),
      base.extend({ n: z.number().int().min(1).max(10) }),
      base.extend({ e: z.enum(['x']) }),
      base.extend({ o: z.object({ s: z.string().max(3) }).optional() }),
      base.extend({ id: z.number() }),
    ];
    for (const next of variants) {
      const compatible = compatibilityProblems(z.toJSONSchema(base, { io: 'input' }) as never, z.toJSONSchema(next, { io: 'input' }) as never, 'backward').length === 0;
      if (!compatible) continue;
      fc.assert(fc.property(arbitraryFromZod(base), (v) => next.safeParse(v).success));
    }
  });

  it('round-trips random values of registered schemas through both codecs', async () => {
    const schema = z.object({ s: z.string(), n: z.number(), i: z.number().int(), b: z.boolean(), a: z.array(z.union([z.string(), z.null()])), o: z.object({ e: z.enum(['p', 'q']) }).optional() });
    for (const codec of ['json', 'msgpack'] as const) {
      const d = await mkdtemp(join(tmpdir(), `strand-codec-${codec}-`));
      const l = await openLog({ path: d, codec });
      const registry = await SchemaRegistry.open(l);
      await registry.register('Thing', 1, schema);
      await fc.assert(
        fc.asyncProperty(arbitraryFromZod(schema), async (v) => {
          const r = await l.append('things/x', [{ type: 'Thing', data: v }]);
          const [back] = await collect(l.readStream('things/x', { from: r.version }));
          expect(back?.data).toEqual(JSON.parse(JSON.stringify(v)));
        }),
        { numRuns: 60 },
      );
      await l.close();
      await rm(d, { recursive: true, force: true });
    }
  });
});
