import { type EventLog, openLog } from '@strand/core';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { attachInline } from './inline.js';
import { defineProjection } from './projection.js';
import { ProjectionRunner } from './runner.js';
import { checkProjection, projectionScenario } from './testing/index.js';

const events = {
  OrderPlaced: z.object({ customer: z.string(), total: z.number().int(), tags: z.array(z.string()).default([]) }),
  OrderMoved: z.object({ customer: z.string() }),
  OrderDeleted: z.object({}),
};

interface Row {
  customer: string;
  total: number;
  tags: string[];
}

const orders = defineProjection({
  name: 'orders-by-customer',
  patterns: ['orders/>'],
  events,
  handlers: {
    OrderPlaced: (e, tx) => {
      expectTypeOf(e.data).toEqualTypeOf<{ customer: string; total: number; tags: string[] }>();
      tx.put('orders', e.stream, { customer: e.data.customer, total: e.data.total, tags: e.data.tags } satisfies Row);
    },
    OrderMoved: (e, tx) => tx.update<Row>('orders', e.stream, (d) => (d ? { ...d, customer: e.data.customer } : d)),
    OrderDeleted: (e, tx) => tx.del('orders', e.stream),
  },
  indexes: {
    byCustomer: { collection: 'orders', key: (d: Row) => d.customer },
    byTag: { collection: 'orders', key: (d: Row) => d.tags },
  },
});

let log: EventLog;
beforeEach(async () => {
  log = await openLog({ memory: true });
});
afterEach(async () => {
  await log.close();
});

async function scenario() {
  await log.append('orders/1', [{ type: 'OrderPlaced', data: { customer: 'ada', total: 5, tags: ['gift', 'eu'] } }]);
  await log.append('orders/2', [{ type: 'OrderPlaced', data: { customer: 'ada', total: 7 } }]);
  await log.append('orders/3', [{ type: 'OrderPlaced', data: { customer: 'bo', total: 1, tags: ['eu'] } }]);
  await log.append('orders/2', [{ type: 'OrderMoved', data: { customer: 'bo' } }]);
  await log.append('orders/1', [{ type: 'OrderDeleted', data: {} }]);
}

const keys = (rows: Array<{ key: string }>) => rows.map((r) => r.key);

describe('typed projections with secondary indexes', () => {
  it('async runner: parsed data (defaults applied) and indexes kept with the documents', async () => {
    const runner = new ProjectionRunner(log, orders);
    await runner.start();
    await scenario();
    await runner.waitFor(log.position);
    const view = runner.view();
    expect(await view.get('orders', 'orders/2')).toEqual({ customer: 'bo', total: 7, tags: [] });
    expect(keys(await view.query('byCustomer', 'ada'))).toEqual([]);
    expect(keys(await view.query('byCustomer', 'bo'))).toEqual(['orders/2', 'orders/3']);
    expect(keys(await view.query('byTag', 'eu'))).toEqual(['orders/3']);
    expect(keys(await view.query('byTag', 'gift'))).toEqual([]);
    await expect(view.query('nope', 'x')).rejects.toThrow(/no index nope/);
    // Data failing its schema fails the handler: the stream parks, the others flow.
    await log.append('orders/9', [{ type: 'OrderPlaced', data: { customer: 'cy', total: 'much' } }]);
    await log.append('orders/4', [{ type: 'OrderPlaced', data: { customer: 'cy', total: 2 } }]);
    await runner.waitFor(log.position);
    expect(runner.parked().map((p) => p.stream)).toEqual(['orders/9']);
    expect(keys(await view.query('byCustomer', 'cy'))).toEqual(['orders/4']);
    // A rebuild rebuilds the indexes of the new generation.
    await runner.rebuild();
    expect(keys(await runner.view().query('byCustomer', 'bo'))).toEqual(['orders/2', 'orders/3']);
    await runner.stop();
  });

  it('inline: the same indexes, written in the append that changes the document', async () => {
    const inline = attachInline(log, orders);
    await scenario();
    const view = inline.view();
    expect(keys(await view.query('byCustomer', 'bo'))).toEqual(['orders/2', 'orders/3']);
    expect(keys(await view.query('byCustomer', 'ada'))).toEqual([]);
    expect(keys(await view.query('byTag', 'eu'))).toEqual(['orders/3']);
    // Two writes to one document in one append change its index entries once.
    await log.appendMulti([{ stream: 'orders/5', events: [{ type: 'OrderPlaced', data: { customer: 'di', total: 1 } }, { type: 'OrderMoved', data: { customer: 'ed' } }] }]);
    expect(keys(await view.query('byCustomer', 'di'))).toEqual([]);
    expect(keys(await view.query('byCustomer', 'ed'))).toEqual(['orders/5']);
    inline.detach();
  });

  it('refuses handlers for undeclared types and bad index declarations', () => {
    expect(() => defineProjection({ name: 'x', patterns: ['a/>'], events, handlers: { Nope: () => {} } as never })).toThrow(/Nope/);
    expect(() => defineProjection({ name: 'x', patterns: ['a/>'], handlers: {}, indexes: { 'bad name': { collection: 'c', key: () => 'k' } } })).toThrow(/index name/);
    expect(() => defineProjection({ name: 'x', patterns: ['a/>'], handlers: {}, indexes: { i: { collection: 'c' } as never } })).toThrow(/needs/);
  });
});

describe('projection testing helpers', () => {
  it('given/then runs the projection on a log and hands over its read model', async () => {
    await projectionScenario(orders)
      .given([
        { stream: 'orders/1', type: 'OrderPlaced', data: { customer: 'ada', total: 5 } },
        { stream: 'orders/1', type: 'OrderMoved', data: { customer: 'bo' } },
      ])
      .thenView(async (view) => {
        expect(keys(await view.query('byCustomer', 'bo'))).toEqual(['orders/1']);
      });
  });

  it('property: inline and asynchronous read models agree, indexes match a fold of the events', async () => {
    const customers = ['ada', 'bo', 'cy'];
    const event = fc.oneof(
      fc.record({ stream: fc.constantFrom('orders/1', 'orders/2', 'orders/3'), type: fc.constant('OrderPlaced'), data: fc.record({ customer: fc.constantFrom(...customers), total: fc.nat(9), tags: fc.subarray(['eu', 'gift']) }) }),
      fc.record({ stream: fc.constantFrom('orders/1', 'orders/2', 'orders/3'), type: fc.constant('OrderMoved'), data: fc.record({ customer: fc.constantFrom(...customers) }) }),
      fc.record({ stream: fc.constantFrom('orders/1', 'orders/2', 'orders/3'), type: fc.constant('OrderDeleted'), data: fc.constant({}) }),
    );
    await checkProjection(orders, {
      events: fc.array(event, { maxLength: 12 }),
      compare: { collections: ['orders'], indexes: { byCustomer: customers, byTag: ['eu', 'gift'] } },
      invariants: [
        async function indexMatchesDocuments(view) {
          for (const c of customers) {
            const viaIndex = keys(await view.query('byCustomer', c));
            const viaScan = (await view.list<Row>('orders')).filter((r) => r.doc.customer === c).map((r) => r.key);
            if (viaIndex.join() !== viaScan.join()) return false;
          }
        },
      ],
      parameters: { numRuns: 15 },
    });
  });
});
