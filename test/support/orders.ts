/**
 * The orders the export tests (Parquet in test/schema, Iceberg in test/iceberg) write and read
 * back: an `OrderPlaced` schema with a column of every kind an export flattens (strings, numbers,
 * integers, enums, timestamps, a nested object with an optional field, an array, an optional
 * field), `Shipped`, and the same orders appended to a log.
 *
 * @module
 */
import type { EventInput, EventLog } from '@strand/core';
import { z } from 'zod';

/** An order placed. */
export const OrderPlaced = z.object({
  orderId: z.string(),
  total: z.number(),
  items: z.number().int(),
  status: z.enum(['new', 'paid']),
  at: z.iso.datetime(),
  customer: z.object({ name: z.string(), vip: z.boolean().optional() }),
  tags: z.array(z.string()),
  note: z.string().optional(),
});

/** An order shipped. */
export const Shipped = z.object({ orderId: z.string(), carrier: z.string() });

/**
 * Appends orders `1..count` to `orders/eu/o-<i>`: order i placed `i` seconds after 2026-01-01 UTC
 * for a total of `1.5 i`, with `i % 7` items, paid when i is odd, a VIP customer every third, tags
 * every fifth, a note every fourth, and shipped by dhl every tenth. `placed` makes the event of
 * its data; `after(i)`, if given, runs after each order's appends (to interleave other events).
 * Resolves with the sum of the totals.
 */
export async function appendOrders(log: EventLog, count: number, placed: (data: z.infer<typeof OrderPlaced>) => EventInput, after?: (i: number) => Promise<unknown>): Promise<number> {
  const day = Date.UTC(2026, 0, 1);
  let total = 0;
  for (let i = 1; i <= count; i++) {
    const data: z.infer<typeof OrderPlaced> = { orderId: `o-${i}`, total: i * 1.5, items: i % 7, status: i % 2 ? 'paid' : 'new', at: new Date(day + i * 1000).toISOString(), customer: { name: `c${i % 10}`, ...(i % 3 === 0 ? { vip: true } : {}) }, tags: i % 5 === 0 ? ['x', 'y'] : [], ...(i % 4 === 0 ? { note: `n${i}` } : {}) };
    total += data.total;
    await log.append(`orders/eu/o-${i}`, [placed(data)]);
    if (i % 10 === 0) await log.append(`orders/eu/o-${i}`, [{ type: 'Shipped', data: { orderId: `o-${i}`, carrier: 'dhl' } }]);
    await after?.(i);
  }
  return total;
}
