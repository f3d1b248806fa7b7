/**
 * `strand serve --demo`: a small shop domain seeded into an empty log, and an order now and then
 * while the server runs, so a newcomer opening the console sees streams, events and a live tail at
 * once. Deterministic (a fixed pseudo-random sequence), so two demo logs look alike. The inventory
 * is an aggregate (`@strand/aggregate`) whose items are reserved by the seeded orders; each item has
 * a snapshot, so the console's Snapshots screen has something to show.
 *
 * @module
 */
import { AggregateRepository, defineAggregate, ensure, type RepositoryOf } from '@strand/aggregate';
import type { EventLog } from '@strand/core';
import { seededRandom } from '@strand/store-s3';
import { z } from 'zod';

const REGIONS = ['eu', 'us', 'apac'] as const;
const SKUS = ['sku-anvil', 'sku-rope', 'sku-lamp', 'sku-kettle', 'sku-map', 'sku-tent'] as const;

/** An inventory item: stock received, and reserved by orders. */
const Inventory = defineAggregate({
  name: 'inventory',
  stream: (sku) => `shop/inventory/${sku}`,
  commands: {
    Receive: z.object({ quantity: z.number().int().min(1) }),
    Reserve: z.object({ order: z.string(), quantity: z.number().int().min(1) }),
  },
  events: {
    StockReceived: z.object({ sku: z.string(), quantity: z.number().int() }),
    StockReserved: z.object({ order: z.string(), quantity: z.number().int() }),
  },
  state: z.object({ sku: z.string(), onHand: z.number().int().min(0), reserved: z.number().int().min(0), orders: z.number().int().min(0) }),
  initialState: () => ({ sku: '', onHand: 0, reserved: 0, orders: 0 }),
  decide: {
    Receive: (c, _s, ctx) => ({ type: 'StockReceived', data: { sku: ctx.id, quantity: c.quantity } }),
    Reserve: (c, s) => {
      ensure(s.onHand - s.reserved >= c.quantity, 'OUT_OF_STOCK', `Only ${s.onHand - s.reserved} left.`);
      return { type: 'StockReserved', data: { order: c.order, quantity: c.quantity } };
    },
  },
  evolve: {
    StockReceived: (s, e) => ({ ...s, sku: e.sku, onHand: s.onHand + e.quantity }),
    StockReserved: (s, e) => ({ ...s, reserved: s.reserved + e.quantity, orders: s.orders + 1 }),
  },
});

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

async function order(log: EventLog, r: () => number, n: number, inventory?: RepositoryOf<typeof Inventory>): Promise<void> {
  const region = pick(r, REGIONS);
  const customer = `c-${1 + Math.floor(r() * 12)}`;
  const events: { type: string; data: unknown; metadata?: Record<string, unknown> }[] = [{ type: 'OrderPlaced', data: { customer, region }, metadata: { source: 'demo' } }];
  const items = 1 + Math.floor(r() * 4);
  for (let i = 0; i < items; i++) events.push({ type: 'ItemAdded', data: { sku: pick(r, SKUS), quantity: 1 + Math.floor(r() * 3), price: Math.round(r() * 9000) / 100 } });
  if (r() < 0.7) events.push({ type: 'OrderPaid', data: { method: r() < 0.5 ? 'card' : 'invoice' } });
  if (r() < 0.5) events.push({ type: 'OrderShipped', data: { carrier: r() < 0.5 ? 'post' : 'courier' } });
  const stream = `shop/orders/${region}/o-${String(n).padStart(4, '0')}`;
  await log.append(stream, events);
  // Seeding: each item reserves stock of the inventory aggregate.
  for (const e of inventory === undefined ? [] : events) {
    if (e.type === 'ItemAdded') {
      const { sku, quantity } = e.data as { sku: string; quantity: number };
      await inventory!.handle(sku, { type: 'Reserve', data: { order: stream, quantity } });
    }
  }
}

/**
 * Seeds the demo domain when the log is empty (customers, orders in three regions, inventory),
 * then appends an order every `everyMs` until the returned stop function is called. A log that is
 * neither empty nor a demo log is left alone (returns undefined): the demo never writes into
 * someone's data.
 */
export async function startDemo(log: EventLog, everyMs = 3000): Promise<(() => void) | undefined> {
  const r = seededRandom(log.position + 18);
  let n = 1;
  if (log.position === 0) {
    for (let c = 1; c <= 12; c++) {
      await log.append(`shop/customers/c-${c}`, [{ type: 'CustomerRegistered', data: { name: `Customer ${c}`, email: `c${c}@example.com` } }]);
    }
    const inventory = new AggregateRepository(log, Inventory);
    for (const sku of SKUS) await inventory.handle(sku, { type: 'Receive', data: { quantity: 500 } });
    for (; n <= 60; n++) await order(log, r, n, inventory);
    for (const sku of SKUS) await inventory.snapshot(sku);
    await inventory.close();
  } else if ((await log.streamInfo('shop/customers/c-1')) !== undefined) {
    n = (await log.countStreams('shop/orders')) + 1;
  } else {
    return undefined;
  }
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void order(log, r, n++)
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
