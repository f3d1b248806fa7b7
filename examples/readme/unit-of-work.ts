/**
 * README snippet "Across aggregates: units of work".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { RepositoryOf } from '@strand/aggregate';
import type { EventLog, SchemaRegistry } from '@strand/core';
import { Order } from '../src/shop/order.js';
import type { Stock } from '../src/shop/stock.js';

declare const log: EventLog;
declare const registry: SchemaRegistry;
declare const orders: RepositoryOf<typeof Order>;
declare const stock: RepositoryOf<typeof Stock>;

// #region readme
import { UnitOfWork, registerAggregate, type StateOf } from '@strand/aggregate';

// Decisions on several aggregates, one atomic appendMulti with every expected version. A conflict
// re-runs the whole decision (jittered backoff); units in one process queue on the streams they
// touch, so 40 racing orders for 14 units confirm exactly 14. Snapshot policies and command ids
// apply as for handle(); a refusal anywhere writes nothing.
const uow = new UnitOfWork(log);
await uow.run(async (tx) => {
  await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 1 } });
  await tx.handle(orders, 'o-1', { type: 'Confirm', data: {} });
}, { commandId: 'confirm-o-1' });

await orders.handle('o-1', { type: 'Pay', data: { amount: 25 } }, { expectedVersion: 1 });  // If-Match
await registerAggregate(registry, Order);      // its zod events registered, checked, bound to orders/>
Order.idOf('orders/o-1');                      // 'o-1': the inverse of stream(id)
type OrderState = StateOf<typeof Order>;       // also CommandOf, EventOf, RepositoryOf
// #endregion readme
