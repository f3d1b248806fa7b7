import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isStrandError, openLog } from '@strand/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audit, openShop } from './shop.js';

let dir: string;
let log: EventLog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-wf-'));
  log = await openLog({ path: dir });
});
afterEach(async () => {
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

/** Pays an order unless the workflow already closed it (a refusal is the customer's problem). */
async function pay(shop: ReturnType<typeof openShop>, id: string): Promise<void> {
  try {
    await shop.orders.handle(id, { type: 'Pay', data: { amount: 10 } });
  } catch (error) {
    if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
  }
}

describe('fulfilment workflow', () => {
  it('race: 40 concurrent orders on stock for 14 -> exactly 14 confirmed, the rest cancelled with a reason, none stuck', async () => {
    const shop = openShop(log, { paymentTimeoutMs: 60_000, timers: false });
    await shop.stock.handle('sku-1', { type: 'Restock', data: { quantity: 14 } });
    await shop.runner.start();
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await shop.orders.handle(`o-${i}`, { type: 'Place', data: { customer: `c-${i % 7}`, sku: 'sku-1', quantity: 1 } });
        await pay(shop, `o-${i}`);
      }),
    );
    await shop.runner.settle();
    const { orders, perOrder, instances } = await audit(log);
    const statuses = [...orders.values()];
    expect(statuses.filter((o) => o.status === 'confirmed')).toHaveLength(14);
    const cancelled = statuses.filter((o) => o.status === 'cancelled');
    expect(cancelled).toHaveLength(26);
    expect(cancelled.every((o) => o.reason === 'OUT_OF_STOCK')).toBe(true);
    const stock = (await shop.stock.load('sku-1')).state;
    expect(stock).toEqual({ available: 0, sold: 14, reserved: {} });
    for (const [id, o] of orders) {
      const c = perOrder.get(id) ?? { reserved: 0, committed: 0, released: 0 };
      expect(c.reserved, id).toBe(o.status === 'confirmed' ? 1 : 0);
      expect(c.committed, id).toBe(o.status === 'confirmed' ? 1 : 0);
      expect(instances.get(id)?.completed, id).toBe(1);
    }
    expect(shop.runner.parked()).toEqual([]);
    expect(await shop.runner.pendingDeadlines()).toEqual([]);
    expect(shop.runner.stats.rejections).toBe(26);
    await shop.close();
  });

  it('deadline: an unpaid order is cancelled and its reservation released once, when the payment deadline comes', async () => {
    let now = 1_000_000;
    const shop = openShop(log, { paymentTimeoutMs: 5_000, timers: false, clock: () => now });
    await shop.stock.handle('sku-1', { type: 'Restock', data: { quantity: 3 } });
    await shop.runner.start();
    await shop.orders.handle('late', { type: 'Place', data: { customer: 'c', sku: 'sku-1', quantity: 2 } });
    await shop.orders.handle('paid', { type: 'Place', data: { customer: 'c', sku: 'sku-1', quantity: 1 } });
    await shop.runner.settle();
    expect((await shop.stock.load('sku-1')).state.available).toBe(0);
    expect(await shop.runner.pendingDeadlines()).toEqual([
      { instance: 'late', name: 'PaymentDue', at: 1_005_000 },
      { instance: 'paid', name: 'PaymentDue', at: 1_005_000 },
    ]);
    await pay(shop, 'paid');
    await shop.runner.settle();
    expect(await shop.runner.pendingDeadlines()).toEqual([{ instance: 'late', name: 'PaymentDue', at: 1_005_000 }]);
    now += 4_999;
    expect(await shop.runner.fireDue()).toBe(0);
    now += 1;
    expect(await shop.runner.fireDue()).toBe(1);
    await shop.runner.settle();
    expect(await shop.runner.fireDue()).toBe(0);
    expect((await shop.orders.load('late')).state).toMatchObject({ status: 'cancelled', reason: 'PAYMENT_TIMEOUT' });
    expect((await shop.orders.load('paid')).state.status).toBe('confirmed');
    expect((await shop.stock.load('sku-1')).state).toEqual({ available: 2, sold: 1, reserved: {} });
    const view = await shop.runner.instance('late');
    expect(view).toMatchObject({ completed: true, deadlines: {}, state: { status: 'cancelled', reason: 'PAYMENT_TIMEOUT', holds: true } });
    // Correlation and causation ids travel on every event the workflow caused.
    const { byStream } = await audit(log);
    const [placed] = byStream.get('orders/late')!;
    const released = byStream.get('stock/sku-1')!.find((e) => e.type === 'ReservationReleased')!;
    expect(released.metadata).toMatchObject({ workflow: 'fulfilment', instance: 'late', correlationId: placed!.id, causationId: 'deadline:PaymentDue' });
    const reserved = byStream.get('stock/sku-1')!.find((e) => e.type === 'StockReserved' && (e.data as { order: string }).order === 'late')!;
    expect(reserved.metadata).toMatchObject({ correlationId: placed!.id, causationId: placed!.id });
    await shop.close();
  });

  it('restart: redelivered events are not applied twice and deadlines survive in the store', async () => {
    let now = 5_000;
    const first = openShop(log, { paymentTimeoutMs: 100, timers: false, clock: () => now });
    await first.stock.handle('sku-1', { type: 'Restock', data: { quantity: 5 } });
    await first.runner.start();
    await first.orders.handle('a', { type: 'Place', data: { customer: 'c', sku: 'sku-1', quantity: 1 } });
    await first.runner.settle();
    const steps = first.runner.stats.steps;
    expect(steps).toBe(1);
    await first.close();
    // Forget the checkpoint: everything is delivered again and must be recognised as done.
    await log.sublevel('wf-fulfilment').del('checkpoint');
    const second = openShop(log, { paymentTimeoutMs: 100, timers: false, clock: () => now });
    await second.runner.start();
    await second.runner.settle();
    expect(second.runner.stats.steps).toBe(0);
    expect(second.runner.stats.skipped).toBeGreaterThan(0);
    now += 100;
    expect(await second.runner.fireDue()).toBe(1);
    expect((await second.orders.load('a')).state.status).toBe('cancelled');
    const { perOrder, instances } = await audit(log);
    expect(perOrder.get('a')).toEqual({ reserved: 1, committed: 0, released: 1 });
    expect(instances.get('a')).toMatchObject({ completed: 1, deadlineFires: 1 });
    await second.close();
  });

  it('a failing instance parks itself; the others flow; retry replays what it held', async () => {
    let broken = true;
    const shop = openShop(log, { paymentTimeoutMs: 60_000, timers: false, attempts: 2, backoffMs: 0 });
    await shop.stock.handle('good', { type: 'Restock', data: { quantity: 5 } });
    await shop.stock.handle('bad', { type: 'Restock', data: { quantity: 5 } });
    // A fail point: loading stock/bad fails, the way a storage fault or a bad record would.
    const load = shop.stock.load.bind(shop.stock);
    shop.stock.load = async (id: string) => {
      if (id === 'bad' && broken) throw new Error('cannot load stock/bad');
      return load(id);
    };
    await shop.runner.start();
    await shop.orders.handle('x', { type: 'Place', data: { customer: 'c', sku: 'bad', quantity: 1 } });
    await shop.orders.handle('y', { type: 'Place', data: { customer: 'c', sku: 'good', quantity: 1 } });
    await pay(shop, 'x');
    await pay(shop, 'y');
    await shop.runner.settle();
    expect(shop.runner.parked().map((p) => [p.instance, p.input.type, p.attempts])).toEqual([['x', 'OrderPlaced', 2]]);
    expect((await shop.orders.load('y')).state.status).toBe('confirmed');
    expect((await shop.orders.load('x')).state.status).toBe('placed');
    broken = false;
    expect(await shop.runner.retry('x')).toBe(true);
    // retry replays what x held; the events that replay causes flow through the runner as usual.
    await shop.runner.settle();
    expect((await shop.orders.load('x')).state.status).toBe('confirmed');
    expect(shop.runner.parked()).toEqual([]);
    await shop.close();
  });
});
