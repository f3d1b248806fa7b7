/**
 * The shop scenario `npm start` runs after the bank: orders reserve stock through the fulfilment
 * workflow; payment confirms them; an order left unpaid is cancelled by its payment deadline,
 * which releases its stock; an order the stock cannot serve is cancelled with the reason.
 *
 * @module
 */
import { AggregateRepository } from '@strand/aggregate';
import { type EventLog, isStrandError, type Logger } from '@strand/core';
import { WorkflowRunner } from '@strand/workflow';
import { fulfilment } from './fulfilment.js';
import { Order } from './order.js';
import { Stock } from './stock.js';

/** How long an order may stay unpaid in the example (short, so the run shows it). */
const PAYMENT_TIMEOUT_MS = 150;

/** Runs the scenario on an open log and describes what happened. */
export async function runShop(log: EventLog, logger?: Logger): Promise<string[]> {
  const out: string[] = [];
  const run = Date.now().toString(36);
  const orders = new AggregateRepository(log, Order);
  const stock = new AggregateRepository(log, Stock, { snapshots: { every: 50 } });
  const runner = new WorkflowRunner(log, fulfilment({ paymentTimeoutMs: PAYMENT_TIMEOUT_MS }), { repositories: [orders, stock], ...(logger ? { logger } : {}) });
  await runner.start();
  const sku = `widget-${run}`;
  await stock.handle(sku, { type: 'Restock', data: { quantity: 3 } });
  out.push(`Shop: ${sku} restocked with 3 units; the fulfilment workflow runs (payment deadline ${PAYMENT_TIMEOUT_MS} ms).`);

  const place = async (who: string, pays: boolean) => {
    const id = `${run}-${who}`;
    await orders.handle(id, { type: 'Place', data: { customer: who, sku, quantity: 1 } });
    await runner.settle();
    if (pays) {
      try {
        await orders.handle(id, { type: 'Pay', data: { amount: 25 } });
      } catch (error) {
        if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
      }
      await runner.settle();
    }
    return id;
  };
  const ids = { ada: await place('ada', true), bo: await place('bo', false), cy: await place('cy', true), di: await place('di', true) };
  out.push(`Placed 4 orders (bo does not pay): stock now ${JSON.stringify((await stock.load(sku)).state.available)} available.`);

  // bo's payment deadline is durable: it fires once, here or after a restart.
  await new Promise((resolve) => setTimeout(resolve, PAYMENT_TIMEOUT_MS));
  await runner.fireDue();
  await runner.settle();
  for (const [who, id] of Object.entries(ids)) {
    const o = (await orders.load(id)).state;
    out.push(`  ${who.padEnd(4)} ${o.status}${o.reason ? ` (${o.reason})` : ''}`);
  }
  const s = (await stock.load(sku)).state;
  out.push(`Stock of ${sku}: ${s.available} available, ${s.sold} sold, ${Object.keys(s.reserved).length} reserved; ${runner.stats.steps} workflow steps, ${runner.stats.rejections} refused command(s) compensated.`);
  await runner.close();
  await orders.close();
  await stock.close();
  return out;
}
