/**
 * The fulfilment workflow: an order reserves its stock; payment confirms it (the reservation is
 * committed); an order still unpaid when its payment deadline comes is cancelled and its
 * reservation released; an order the stock cannot serve is cancelled with the stock's reason.
 * Each step commits atomically with the commands it sends (docs/design/0012-workflows.md).
 *
 * @module
 */
import { cancel, complete, defineWorkflow, schedule, send, type WorkflowAction } from '@strand/workflow';
import { z } from 'zod';
import { Order } from './order.js';
import { Stock } from './stock.js';

/** The fulfilment workflow, with how long an order may stay unpaid. */
export function fulfilment(options: { paymentTimeoutMs: number }) {
  return defineWorkflow({
    name: 'fulfilment',
    inputs: { OrderPlaced: Order.definition.events.OrderPlaced, OrderPaid: Order.definition.events.OrderPaid },
    triggers: { 'orders/>': ['OrderPlaced', 'OrderPaid'] },
    starts: ['OrderPlaced'],
    instanceOf: (e) => Order.idOf(e.stream),
    deadlines: { PaymentDue: z.object({}) },
    state: z.object({
      status: z.enum(['new', 'reserved', 'confirmed', 'cancelled']),
      sku: z.string(),
      /** The order holds a reservation (it must end committed or released). */
      holds: z.boolean(),
      reason: z.string(),
    }),
    initialState: () => ({ status: 'new' as const, sku: '', holds: false, reason: '' }),
    decide: (input, state, { instance, now }): WorkflowAction[] => {
      const release = (reason: string) => send(Stock, state.sku, { type: 'Release', data: { order: instance, reason } });
      const cancelOrder = (reason: string) => send(Order, instance, { type: 'Cancel', data: { reason } });
      switch (input.type) {
        case 'OrderPlaced':
          if (state.status !== 'new') return [];
          return [send(Stock, input.data.sku, { type: 'Reserve', data: { order: instance, quantity: input.data.quantity } }), schedule('PaymentDue', now + options.paymentTimeoutMs)];
        case 'OrderPaid':
          if (state.status !== 'reserved') return [];
          return [send(Stock, state.sku, { type: 'Commit', data: { order: instance } }), send(Order, instance, { type: 'Confirm', data: {} }), cancel('PaymentDue'), complete()];
        case 'PaymentDue':
          if (state.status !== 'reserved') return [];
          return [release('PAYMENT_TIMEOUT'), cancelOrder('PAYMENT_TIMEOUT'), complete()];
        case 'CommandRejected': {
          // Compensation: the refused decision wrote nothing; undo what earlier steps did.
          const { command, reason } = input.data;
          if (command === 'Reserve') return [cancelOrder(reason), complete()];
          if (command === 'Release') return [complete()];
          if (command === 'Cancel') return state.holds ? [release(reason), complete()] : [complete()];
          return [...(state.holds ? [release(reason)] : []), cancelOrder(reason), complete()];
        }
      }
    },
    evolve: (state, input) => {
      switch (input.type) {
        case 'OrderPlaced':
          return state.status === 'new' ? { ...state, status: 'reserved' as const, sku: input.data.sku, holds: true } : state;
        case 'OrderPaid':
          return state.status === 'reserved' ? { ...state, status: 'confirmed' as const } : state;
        case 'PaymentDue':
          return state.status === 'reserved' ? { ...state, status: 'cancelled' as const, reason: 'PAYMENT_TIMEOUT' } : state;
        case 'CommandRejected':
          return { ...state, status: 'cancelled' as const, reason: input.data.reason, holds: input.data.command === 'Reserve' ? false : state.holds };
      }
    },
  });
}

/**
 * The fulfilment workflow's type.
 * @public
 */
export type Fulfilment = ReturnType<typeof fulfilment>;
