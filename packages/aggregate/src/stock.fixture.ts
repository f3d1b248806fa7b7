// Stock and order aggregates used by the unit-of-work tests.
import { z } from 'zod';
import { defineAggregate, ensure } from './define.js';

export const Stock = defineAggregate({
  name: 'stock',
  stream: (sku) => `stock/${sku}`,
  commands: {
    Add: z.object({ quantity: z.number().int().min(1) }),
    Reserve: z.object({ order: z.string(), quantity: z.number().int().min(1) }),
  },
  events: {
    Added: z.object({ quantity: z.number().int() }),
    Reserved: z.object({ order: z.string(), quantity: z.number().int() }),
  },
  state: z.object({ available: z.number().int().min(0) }),
  initialState: () => ({ available: 0 }),
  decide: {
    Add: (c) => ({ type: 'Added', data: { quantity: c.quantity } }),
    Reserve: (c, s) => {
      ensure(s.available >= c.quantity, 'OUT_OF_STOCK', `Only ${s.available} left.`);
      return { type: 'Reserved', data: { order: c.order, quantity: c.quantity } };
    },
  },
  evolve: {
    Added: (s, e) => ({ available: s.available + e.quantity }),
    Reserved: (s, e) => ({ available: s.available - e.quantity }),
  },
});

export const Order = defineAggregate({
  name: 'order',
  stream: (id) => `orders/${id}`,
  commands: { Confirm: z.object({ sku: z.string() }) },
  events: { Confirmed: z.object({ sku: z.string() }) },
  state: z.object({ confirmed: z.boolean() }),
  initialState: () => ({ confirmed: false }),
  decide: {
    Confirm: (c, s) => {
      ensure(!s.confirmed, 'ALREADY_CONFIRMED', 'The order is confirmed already.');
      return { type: 'Confirmed', data: { sku: c.sku } };
    },
  },
  evolve: { Confirmed: () => ({ confirmed: true }) },
});
