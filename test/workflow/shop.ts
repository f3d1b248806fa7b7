// Shared by the workflow tests: the example shop's domain on a log, and the checks every test
// makes on what the log holds at the end.
import { AggregateRepository } from '@strand/aggregate';
import type { EventLog, RecordedEvent } from '@strand/core';
import { collect } from '@strand/core/testing';
import { WorkflowRunner, type WorkflowRunnerOptions } from '@strand/workflow';
import { fulfilment } from '../../examples/src/shop/fulfilment.js';
import { Order } from '../../examples/src/shop/order.js';
import { Stock } from '../../examples/src/shop/stock.js';

export { Order, Stock };

/** The shop's repositories and fulfilment runner on one log. */
export function openShop(log: EventLog, options: { paymentTimeoutMs: number } & Partial<Omit<WorkflowRunnerOptions, 'repositories'>>) {
  const { paymentTimeoutMs, ...runnerOptions } = options;
  const orders = new AggregateRepository(log, Order);
  const stock = new AggregateRepository(log, Stock, { snapshots: { every: 25 } });
  const workflow = fulfilment({ paymentTimeoutMs });
  const runner = new WorkflowRunner(log, workflow, { repositories: [orders, stock], ...runnerOptions });
  return {
    orders,
    stock,
    runner,
    async close() {
      await runner.close();
      await orders.close();
      await stock.close();
    },
  };
}

/** Everything the invariants need, read back from the log. */
export async function audit(log: EventLog) {
  const all = await collect(log.readAll());
  const byStream = new Map<string, RecordedEvent[]>();
  for (const e of all) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e]);
  const orders = new Map<string, { status: string; reason: string; paid: boolean; placed: boolean }>();
  for (const [stream, events] of byStream) {
    const id = Order.idOf(stream);
    if (id === undefined) continue;
    const s = Order.fold(events.map((e) => Order.parseEvent(e.type, e.data)));
    orders.set(id, { status: s.status, reason: s.reason, paid: s.paid, placed: s.status !== 'new' });
  }
  const stockEvents = all.filter((e) => e.stream.startsWith('stock/'));
  const perOrder = new Map<string, { reserved: number; committed: number; released: number }>();
  for (const e of stockEvents) {
    const order = (e.data as { order?: string }).order;
    if (order === undefined) continue;
    const c = perOrder.get(order) ?? { reserved: 0, committed: 0, released: 0 };
    if (e.type === 'StockReserved') c.reserved++;
    if (e.type === 'ReservationCommitted') c.committed++;
    if (e.type === 'ReservationReleased') c.released++;
    perOrder.set(order, c);
  }
  const instances = new Map<string, { completed: number; deadlineFires: number; sources: number[] }>();
  for (const [stream, events] of byStream) {
    if (!stream.startsWith('workflows/fulfilment/')) continue;
    const id = stream.slice('workflows/fulfilment/'.length);
    const received = events.filter((e) => e.type === 'Received').map((e) => (e.data as { input: { kind: string; source?: { position: number } } }).input);
    instances.set(id, {
      completed: events.filter((e) => e.type === 'Completed').length,
      deadlineFires: received.filter((i) => i.kind === 'deadline').length,
      sources: received.flatMap((i) => (i.source ? [i.source.position] : [])),
    });
  }
  return { all, byStream, orders, perOrder, instances, stockEvents };
}
