/**
 * The shop's stock aggregate: one stream per product (sku). Orders reserve units; a reservation
 * is later committed (sold) or released. Units are never oversold: available + reserved + sold
 * always equals what was restocked.
 *
 * @module
 */
import { defineAggregate, ensure } from '@strand/aggregate';
import { z } from 'zod';

/** Stock of one product. */
export const Stock = defineAggregate({
  name: 'stock',
  stream: (sku) => `stock/${sku}`,
  commands: {
    Restock: z.object({ quantity: z.number().int().min(1) }),
    Reserve: z.object({ order: z.string(), quantity: z.number().int().min(1) }),
    Commit: z.object({ order: z.string() }),
    Release: z.object({ order: z.string(), reason: z.string() }),
  },
  events: {
    Restocked: z.object({ quantity: z.number().int() }),
    StockReserved: z.object({ order: z.string(), quantity: z.number().int() }),
    ReservationCommitted: z.object({ order: z.string(), quantity: z.number().int() }),
    ReservationReleased: z.object({ order: z.string(), quantity: z.number().int(), reason: z.string() }),
  },
  state: z.object({ available: z.number().int().min(0), sold: z.number().int().min(0), reserved: z.record(z.string(), z.number().int()) }),
  initialState: () => ({ available: 0, sold: 0, reserved: {} }),
  decide: {
    Restock: (c) => ({ type: 'Restocked', data: c }),
    Reserve: (c, s) => {
      ensure(!Object.hasOwn(s.reserved, c.order), 'ALREADY_RESERVED', `Order ${c.order} holds a reservation already.`);
      ensure(s.available >= c.quantity, 'OUT_OF_STOCK', `Only ${s.available} left, ${c.quantity} asked.`);
      return { type: 'StockReserved', data: c };
    },
    Commit: (c, s) => {
      const quantity = s.reserved[c.order];
      ensure(quantity !== undefined, 'NO_RESERVATION', `Order ${c.order} holds no reservation.`);
      return { type: 'ReservationCommitted', data: { order: c.order, quantity } };
    },
    Release: (c, s) => {
      const quantity = s.reserved[c.order];
      ensure(quantity !== undefined, 'NO_RESERVATION', `Order ${c.order} holds no reservation.`);
      return { type: 'ReservationReleased', data: { order: c.order, quantity, reason: c.reason } };
    },
  },
  evolve: {
    Restocked: (s, e) => ({ ...s, available: s.available + e.quantity }),
    StockReserved: (s, e) => ({ ...s, available: s.available - e.quantity, reserved: { ...s.reserved, [e.order]: e.quantity } }),
    ReservationCommitted: (s, e) => ({ ...s, sold: s.sold + e.quantity, reserved: without(s.reserved, e.order) }),
    ReservationReleased: (s, e) => ({ ...s, available: s.available + e.quantity, reserved: without(s.reserved, e.order) }),
  },
});

function without(map: Record<string, number>, key: string): Record<string, number> {
  const out = { ...map };
  delete out[key];
  return out;
}
