// Child of the workflow crash test: places (and mostly pays) orders while the fulfilment workflow
// runs with real timers and short payment deadlines, until SIGKILL. Prints one line per order.
import { isStrandError, openLog } from '@strand/core';
import { seededInts } from '../support/child.js';
import { openShop } from './shop.js';

const [dir, seedArg] = process.argv.slice(2);
const seed = Number(seedArg);
const next = seededInts(seed);
const log = await openLog({ path: dir! });
const shop = openShop(log, { paymentTimeoutMs: 30, concurrency: 8 });
for (let s = 0; s < 3; s++) await shop.stock.handle(`sku-${s}`, { type: 'Restock', data: { quantity: 12 } }, { commandId: `restock-${s}` });
await shop.runner.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for (let i = 0; ; i++) {
  const id = `r${seed}-${i}`;
  await shop.orders.handle(id, { type: 'Place', data: { customer: `c-${next(5)}`, sku: `sku-${next(3)}`, quantity: 1 + next(3) } });
  const pays = next(10) < 6;
  if (pays) {
    try {
      await shop.orders.handle(id, { type: 'Pay', data: { amount: 10 } });
    } catch (error) {
      if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
    }
  }
  process.stdout.write(`${JSON.stringify({ id, pays })}\n`);
  // Let the runner and its timers work between orders, so kills land at every stage.
  if (next(4) === 0) await new Promise<void>((resolve) => setImmediate(resolve));
}
