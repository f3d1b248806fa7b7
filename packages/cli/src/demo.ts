/**
 * `strand serve --demo`: a small shop domain seeded into an empty log, and an order now and then
 * while the server runs, so a newcomer opening the console sees streams, events and a live tail at
 * once. Deterministic (a fixed pseudo-random sequence), so two demo logs look alike.
 *
 * @module
 */
import type { EventLog } from '@strand/core';
import { seededRandom } from '@strand/store-s3';

const REGIONS = ['eu', 'us', 'apac'] as const;
const SKUS = ['sku-anvil', 'sku-rope', 'sku-lamp', 'sku-kettle', 'sku-map', 'sku-tent'] as const;

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

async function order(log: EventLog, r: () => number, n: number): Promise<void> {
  const region = pick(r, REGIONS);
  const customer = `c-${1 + Math.floor(r() * 12)}`;
  const events: { type: string; data: unknown; metadata?: Record<string, unknown> }[] = [{ type: 'OrderPlaced', data: { customer, region }, metadata: { source: 'demo' } }];
  const items = 1 + Math.floor(r() * 4);
  for (let i = 0; i < items; i++) events.push({ type: 'ItemAdded', data: { sku: pick(r, SKUS), quantity: 1 + Math.floor(r() * 3), price: Math.round(r() * 9000) / 100 } });
  if (r() < 0.7) events.push({ type: 'OrderPaid', data: { method: r() < 0.5 ? 'card' : 'invoice' } });
  if (r() < 0.5) events.push({ type: 'OrderShipped', data: { carrier: r() < 0.5 ? 'post' : 'courier' } });
  await log.append(`shop/orders/${region}/o-${String(n).padStart(4, '0')}`, events);
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
    for (const sku of SKUS) await log.append(`shop/inventory/${sku}`, [{ type: 'StockReceived', data: { sku, quantity: 100 } }]);
    for (; n <= 60; n++) await order(log, r, n);
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
