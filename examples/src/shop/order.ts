/**
 * The shop's order aggregate: placed, paid, then confirmed or cancelled (with a reason).
 *
 * @module
 */
import { defineAggregate, ensure } from '@strand/aggregate';
import { z } from 'zod';

/** An order of one product line. */
export const Order = defineAggregate({
  name: 'order',
  stream: (id) => `orders/${id}`,
  commands: {
    Place: z.object({ customer: z.string().min(1), sku: z.string().min(1), quantity: z.number().int().min(1).max(100) }),
    Pay: z.object({ amount: z.number().int().min(0) }),
    Confirm: z.object({}),
    Cancel: z.object({ reason: z.string().min(1) }),
  },
  events: {
    OrderPlaced: z.object({ customer: z.string().min(1), sku: z.string().min(1), quantity: z.number().int().min(1) }),
    OrderPaid: z.object({ amount: z.number().int() }),
    OrderConfirmed: z.object({}),
    OrderCancelled: z.object({ reason: z.string() }),
  },
  state: z.object({
    status: z.enum(['new', 'placed', 'confirmed', 'cancelled']),
    paid: z.boolean(),
    customer: z.string(),
    sku: z.string(),
    quantity: z.number().int(),
    reason: z.string(),
  }),
  initialState: () => ({ status: 'new' as const, paid: false, customer: '', sku: '', quantity: 0, reason: '' }),
  decide: {
    Place: (c, s) => {
      ensure(s.status === 'new', 'ALREADY_PLACED', 'This order was placed already.');
      return { type: 'OrderPlaced', data: c };
    },
    Pay: (c, s) => {
      ensure(s.status === 'placed', 'ORDER_CLOSED', `The order is ${s.status}; it takes no payment.`);
      ensure(!s.paid, 'ALREADY_PAID', 'The order is paid already.');
      return { type: 'OrderPaid', data: c };
    },
    Confirm: (_c, s) => {
      ensure(s.status === 'placed' && s.paid, 'NOT_CONFIRMABLE', 'Only a placed, paid order can be confirmed.');
      return { type: 'OrderConfirmed', data: {} };
    },
    Cancel: (c, s) => {
      ensure(s.status === 'placed', 'ORDER_CLOSED', `The order is ${s.status}; it cannot be cancelled.`);
      return { type: 'OrderCancelled', data: c };
    },
  },
  evolve: {
    OrderPlaced: (s, e) => ({ ...s, status: 'placed' as const, ...e }),
    OrderPaid: (s) => ({ ...s, paid: true }),
    OrderConfirmed: (s) => ({ ...s, status: 'confirmed' as const }),
    OrderCancelled: (s, e) => ({ ...s, status: 'cancelled' as const, reason: e.reason }),
  },
});
