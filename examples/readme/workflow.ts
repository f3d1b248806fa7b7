/**
 * README snippet "Across aggregates: workflows".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { RepositoryOf } from '@strand/aggregate';
import type { EventLog } from '@strand/core';
import { z } from 'zod';
import { Order } from '../src/shop/order.js';
import { Stock } from '../src/shop/stock.js';

declare const log: EventLog;
declare const orders: RepositoryOf<typeof Order>;
declare const stock: RepositoryOf<typeof Stock>;
declare const instance: string;

// #region readme
import { cancel, complete, defineWorkflow, schedule, send, WorkflowRunner } from '@strand/workflow';

const Fulfilment = defineWorkflow({
  name: 'fulfilment',
  inputs: { OrderPlaced: Order.definition.events.OrderPlaced, OrderPaid: Order.definition.events.OrderPaid },
  triggers: { 'orders/>': ['OrderPlaced', 'OrderPaid'] },
  instanceOf: (e) => Order.idOf(e.stream),
  deadlines: { PaymentDue: z.object({}) },
  state: z.object({ status: z.enum(['new', 'reserved', 'done']), sku: z.string() }),
  initialState: () => ({ status: 'new' as const, sku: '' }),
  decide: (input, state, { instance, now }) => {
    switch (input.type) {
      case 'OrderPlaced': return [send(Stock, input.data.sku, { type: 'Reserve', data: { order: instance, quantity: input.data.quantity } }), schedule('PaymentDue', now + 30_000)];
      case 'OrderPaid': return [send(Stock, state.sku, { type: 'Commit', data: { order: instance } }), send(Order, instance, { type: 'Confirm', data: {} }), cancel('PaymentDue'), complete()];
      case 'PaymentDue': return [send(Stock, state.sku, { type: 'Release', data: { order: instance, reason: 'PAYMENT_TIMEOUT' } }), send(Order, instance, { type: 'Cancel', data: { reason: 'PAYMENT_TIMEOUT' } }), complete()];
      case 'CommandRejected': return [send(Order, instance, { type: 'Cancel', data: { reason: input.data.reason } }), complete()];   // compensation
    }
  },
  evolve: (state, input) => (input.type === 'OrderPlaced' ? { status: 'reserved' as const, sku: input.data.sku } : { ...state, status: 'done' as const }),
});

const runner = new WorkflowRunner(log, Fulfilment, { repositories: [orders, stock] });
await runner.start();   // catch-up from its checkpoint, then live; deadlines due meanwhile fire
await runner.settle();  runner.parked();  await runner.retry(instance);  await runner.instance('o-1');
// #endregion readme
