/**
 * README snippet "Projections: read models with read-your-writes".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { CommandOf } from '@strand/aggregate';
import type { EventLog } from '@strand/core';
import type { RebuildProgress } from '@strand/projections';
import { Order } from '../src/shop/order.js';
import { type Account, accounts } from './aggregate.js';

declare const log: EventLog;
declare const id: string;
declare const command: CommandOf<typeof Account>;
declare const stream: string;
declare const onProgress: (progress: RebuildProgress) => void;

// #region readme
import { attachInline, confirmProjections, defineProjection, ProjectionRunner } from '@strand/projections';

const balances = defineProjection({
  name: 'balances',
  patterns: ['accounts/>'],
  handlers: {
    Credited: (e, tx) => tx.update('byAccount', e.stream, (d?: { balance: number }) => ({ balance: (d?.balance ?? 0) + (e.data as { amount: number }).amount })),
  },
});

// Asynchronous: checkpointed, per-stream order, streams in parallel, failing streams parked.
const runner = new ProjectionRunner(log, balances, { concurrency: 16 });
await runner.start();
await accounts.handle(id, command, { afterCommit: confirmProjections([runner]) });  // read-your-writes
await runner.view().get('byAccount', 'accounts/eu/acct-7');
runner.parked();  await runner.retry(stream);  await runner.status();  await runner.rebuild(onProgress);

// Inline: the read model is written in the same atomic batch as the events.
const inline = attachInline(log, balances);

// Typed: handlers get data parsed and typed by the zod schemas; secondary indexes are kept in the
// same batch as the documents (async and inline) and queried without a second collection.
const byCustomer = defineProjection({
  name: 'orders-by-customer',
  patterns: ['orders/>'],
  events: Order.definition.events,
  handlers: { OrderPlaced: (e, tx) => tx.put('orders', e.stream, { customer: e.data.customer, sku: e.data.sku }) },
  indexes: { byCustomer: { collection: 'orders', key: (d: { customer: string }) => d.customer } },
});
await new ProjectionRunner(log, byCustomer).view().query('byCustomer', 'ada');
// #endregion readme
