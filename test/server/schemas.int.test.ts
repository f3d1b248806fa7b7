/**
 * The schema registry through the network: a client registers, binds, lists and gets schemas of
 * the server's log, the server validates every append against them (whoever appends), and code
 * written for the embedded registry (`registerAggregate`) runs unchanged on `client.schemas()`.
 */
import { defineAggregate, registerAggregate } from '@strand/aggregate';
import { SchemaRegistry } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { errorCode } from '@strand/core/testing';
import { connect } from '@strand/client';
import { createServer } from '@strand/server';
import { MemoryLevel } from 'memory-level';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cleanup, type Running, startServer } from './harness.js';

let s: Running;
beforeEach(async () => {
  s = await startServer('leveldb');
});
afterEach(() => s.close());
afterAll(cleanup);

const Placed = z.object({ total: z.number().int().nonnegative(), at: z.string().datetime() });

describe('schema registry RPCs', () => {
  it('registers, validates appends on the server, lists, gets and re-registers idempotently', async () => {
    const c = s.client();
    const schemas = await c.schemas();
    expect(schemas.list()).toEqual([]);
    const t = await schemas.register('OrderPlaced', 1, Placed);
    expect(t.version).toBe(1);
    expect(schemas.latest('OrderPlaced')).toBe(1);
    // The server enforces it, for the client and for the server's own log alike.
    expect(await errorCode(c.append('orders/1', [{ type: 'OrderPlaced', data: { total: -1, at: 'x' } }]))).toBe('STRAND_SCHEMA_VALIDATION');
    expect(await errorCode(s.log.append('orders/1', [{ type: 'OrderPlaced', data: { total: 'no' } }]))).toBe('STRAND_SCHEMA_VALIDATION');
    const ok = await c.append('orders/1', [t.event({ total: 5, at: '2026-11-30T10:00:00Z' })]);
    expect(ok.events[0]!.schemaVersion).toBe(1);
    // The same schema again is a no-op; another one under the same version is a conflict.
    expect((await schemas.register('OrderPlaced', 1, Placed)).version).toBe(1);
    expect(await errorCode(schemas.register('OrderPlaced', 1, z.object({ total: z.string() })))).toBe('STRAND_SCHEMA_CONFLICT');
    // An incompatible next version needs an upcaster, which lives in the server process.
    expect(await errorCode(schemas.register('OrderPlaced', 2, z.object({ total: z.string(), at: z.string() })))).toBe('STRAND_INCOMPATIBLE_SCHEMA');
    expect(await errorCode(schemas.register('OrderPlaced', 2, Placed, { upcast: (d) => d }))).toBe('STRAND_INVALID_ARGUMENT');
    // A compatible one (an optional field) goes in.
    expect((await schemas.register('OrderPlaced', 2, Placed.extend({ note: z.string().optional() }))).version).toBe(2);
    // What the server holds is what the client sent, and a fresh client sees it.
    const fresh = await s.client().schemas();
    expect(fresh.latest('OrderPlaced')).toBe(2);
    expect(fresh.jsonSchema('OrderPlaced', 1)).toEqual(schemas.jsonSchema('OrderPlaced', 1));
    const local = z.toJSONSchema(Placed, { io: 'input' }) as Record<string, unknown>;
    delete local.$schema;
    expect(fresh.jsonSchema('OrderPlaced', 1)).toEqual(local);
    const server = await SchemaRegistry.open(s.log);
    expect(server.latest('OrderPlaced')).toBe(2);
  });

  it('binds patterns: their streams accept only the bound types', async () => {
    const c = s.client();
    const schemas = await c.schemas();
    await schemas.register('Shipped', 1, z.object({ carrier: z.string() }));
    expect(await errorCode(schemas.bind('shipments/>', ['NotRegistered']))).toBe('STRAND_INVALID_ARGUMENT');
    await schemas.bind('shipments/>', ['Shipped']);
    expect(await errorCode(c.append('shipments/1', [{ type: 'Other', data: {} }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
    await c.append('shipments/1', [{ type: 'Shipped', data: { carrier: 'dhl' } }]);
    await c.append('elsewhere/1', [{ type: 'Other', data: {} }]);
  });

  it('runs registerAggregate unchanged, and a second start-up registers nothing new', async () => {
    const Cart = defineAggregate({
      name: 'cart',
      stream: (id) => `carts/${id}`,
      commands: { Add: z.object({ sku: z.string() }) },
      events: { ItemAdded: z.object({ sku: z.string() }) },
      state: z.object({ n: z.number() }),
      initialState: () => ({ n: 0 }),
      decide: { Add: (c) => ({ type: 'ItemAdded', data: { sku: c.sku } }) },
      evolve: { ItemAdded: (st) => ({ n: st.n + 1 }) },
    });
    const first = await registerAggregate(await s.client().schemas(), Cart);
    expect(first).toEqual([{ type: 'ItemAdded', version: 1, outcome: 'new' }]);
    const again = await registerAggregate(await s.client().schemas(), Cart);
    expect(again).toEqual([{ type: 'ItemAdded', version: 1, outcome: 'same' }]);
    expect(await errorCode(s.client().append('carts/1', [{ type: 'Other', data: {} }]))).toBe('STRAND_UNKNOWN_EVENT_TYPE');
  });

  it('needs the schemas permission to register and bind, read to list; tenants have their own', async () => {
    const tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await tenants.createTenant('acme');
    await tenants.createTenant('globex');
    const admin = (await tenants.createPrincipal('acme', [{ permission: 'schemas', pattern: '>' }, { permission: 'read', pattern: '>' }])).apiKey;
    const reader = (await tenants.createPrincipal('acme', [{ permission: 'read', pattern: 'orders/>' }])).apiKey;
    const writer = (await tenants.createPrincipal('acme', [{ permission: 'append', pattern: '>' }])).apiKey;
    const other = (await tenants.createPrincipal('globex', (['schemas', 'read', 'append'] as const).map((permission) => ({ permission, pattern: '>' })))).apiKey;
    const server = createServer({ tenants });
    const url = await server.listen();
    const clients = [admin, reader, writer, other].map((apiKey) => connect({ url, apiKey }));
    try {
      const [a, r, w, o] = clients as [ReturnType<typeof connect>, ReturnType<typeof connect>, ReturnType<typeof connect>, ReturnType<typeof connect>];
      await (await a.schemas()).register('Paid', 1, z.object({ amount: z.number() }));
      const asReader = await r.schemas();
      expect(asReader.latest('Paid')).toBe(1);
      expect(await errorCode(asReader.register('Evil', 1, z.object({})))).toBe('STRAND_ACCESS_DENIED');
      expect(await errorCode(asReader.bind('>', ['Paid']))).toBe('STRAND_ACCESS_DENIED');
      expect(await errorCode(w.schemas())).toBe('STRAND_ACCESS_DENIED');
      // The schema binds acme's appends only.
      expect(await errorCode(w.append('p/1', [{ type: 'Paid', data: { amount: 'x' } }]))).toBe('STRAND_SCHEMA_VALIDATION');
      const globex = await o.schemas();
      expect(globex.list()).toEqual([]);
      await o.append('p/1', [{ type: 'Paid', data: { amount: 'x' } }]);
      expect((await tenants.tenant('acme')).schemas.latest('Evil')).toBe(0);
    } finally {
      for (const c of clients) await c.close();
      await server.close();
      await tenants.close();
    }
  });
});
