import { complete, send } from '@strand/workflow';
import { checkWorkflow, workflowScenario } from '@strand/workflow/testing';
import { describe, expect, it } from 'vitest';
import { fulfilment } from './fulfilment.js';
import { Order } from './order.js';
import { Stock } from './stock.js';

const Fulfilment = fulfilment({ paymentTimeoutMs: 1_000 });
const source = (position: number) => ({ stream: 'orders/o-1', version: position, position, id: `e-${position}` });
const placed = { kind: 'event', type: 'OrderPlaced', data: { customer: 'c', sku: 'sku-1', quantity: 2 }, source: source(1) } as const;
const paid = { kind: 'event', type: 'OrderPaid', data: { amount: 5 }, source: source(2) } as const;
const due = { kind: 'deadline', type: 'PaymentDue', data: {}, at: 1_000 } as const;

describe('fulfilment workflow (specs)', () => {
  it('reserves on placement and sets the payment deadline', () => {
    workflowScenario(Fulfilment, { instance: 'o-1', now: 0 })
      .given([])
      .when(placed)
      .thenInstance((i) => expect(i).toEqual({ state: { status: 'reserved', sku: 'sku-1', holds: true, reason: '' }, pending: { PaymentDue: { at: 1_000, data: {} } }, completed: false }));
  });

  it('an unpaid order is released and cancelled when the deadline comes', () => {
    workflowScenario(Fulfilment, { instance: 'o-1', now: 1_000 })
      .given([placed])
      .when(due)
      .thenActions([
        send(Stock, 'sku-1', { type: 'Release', data: { order: 'o-1', reason: 'PAYMENT_TIMEOUT' } }),
        send(Order, 'o-1', { type: 'Cancel', data: { reason: 'PAYMENT_TIMEOUT' } }),
        complete(),
      ]);
  });

  it('out of stock: the refused reservation is compensated by cancelling the order with the reason', () => {
    const refuse = (s: { command: { type: string } }) => (s.command.type === 'Reserve' ? { aggregate: 'stock', id: 'sku-1', command: 'Reserve', reason: 'OUT_OF_STOCK', message: 'none left' } : undefined);
    const spec = workflowScenario(Fulfilment, { instance: 'o-1' }).given([]);
    spec.when(placed, refuse).thenActions([send(Order, 'o-1', { type: 'Cancel', data: { reason: 'OUT_OF_STOCK' } }), complete()]);
    spec.when(placed, refuse).thenInstance((i) => expect([i.completed, i.pending, i.state.holds]).toEqual([true, {}, false]));
  });

  it('payment after the deadline changes nothing', () => {
    workflowScenario(Fulfilment).given([placed, due]).when(paid).thenActions([]);
  });
});

describe('fulfilment workflow (properties)', () => {
  it('never leaves stock reserved: every reservation ends committed or released (random inputs, refusals, deadlines)', () => {
    const report = checkWorkflow(Fulfilment, {
      whenComplete: [
        function everyReservationEnds(_instance, trace) {
          const sent = trace.flatMap((t) => t.sent);
          const reserved = sent.filter((s) => s.command.type === 'Reserve').length;
          const ended = sent.filter((s) => s.command.type === 'Commit' || s.command.type === 'Release').length;
          // A refused Release means the stock holds nothing for the order (NO_RESERVATION).
          const refusedRelease = trace.flatMap((t) => t.inputs).filter((i) => i.kind === 'rejected' && i.data.command === 'Release').length;
          return reserved === ended + refusedRelease;
        },
      ],
      invariants: [(instance) => !instance.completed || Object.keys(instance.pending).length === 0, (instance) => instance.state.status !== 'new' || !instance.state.holds],
    });
    expect(report.completed).toBeGreaterThan(5);
    expect(report.refusals).toBeGreaterThan(5);
    expect(report.deadlines).toBeGreaterThan(0);
  });
});
