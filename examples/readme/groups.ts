/**
 * README snippet "Consumer groups".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import { openLog } from '@strand/core';

// #region readme
import { connectGroup, ConsumerGroup, serveGroup } from '@strand/projections';

// Terminal 1: the process that owns the log runs the group and serves it.
const log = await openLog({ path: './data-groups' });
const group = await ConsumerGroup.open(log, { name: 'billing', pattern: 'orders/>', maxAttempts: 3 });
await serveGroup([group], { port: 7070 });
for (let i = 0; i < 1000; i++) await log.append(`orders/eu/o-${i % 100}`, [{ type: 'OrderPlaced', data: { total: i, poison: i === 13 } }]);
await group.drained();
group.parked();   // [{ stream: 'orders/eu/o-13', version: 1, error: 'poison', attempts: 3 }]; the other 99 streams are done

// Terminal 2 (and 3, 4...): members. Kill one: its streams move to the others.
await connectGroup({ port: 7070 }, 'billing', async (d) => {
  const data = d.events[0]!.data as { poison?: boolean };
  if (data.poison) throw new Error('poison');                   // nack: retried with backoff, parked after 3
  return { appends: [{ stream: `invoices/${d.stream}`, events: [{ type: 'Invoiced', data: {} }] }] };  // committed with the ack: exactly once
}, { credits: 16 });
// #endregion readme
