/**
 * README snippet "The log: streams, expected versions, global order".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
// The tour's first snippet opens its own log: no context needed.

// #region readme
import { openLog, isStrandError } from '@strand/core';

const log = await openLog({ path: './data' });            // LevelDB; { memory: true } for tests

// Append to one entity's stream, only if it does not exist yet.
const r = await log.append('orders/eu/order-42', [{ type: 'OrderPlaced', data: { total: 42 } }], { expectedVersion: 'no_stream' });
r.version;   // 1: version in the stream
r.position;  // global position: gapless, in commit order

// Several streams in one atomic commit, each with its own expected version.
await log.appendMulti([
  { stream: 'accounts/eu/a', expectedVersion: 3, events: [{ type: 'Debited', data: { amount: 5 } }] },
  { stream: 'accounts/eu/b', expectedVersion: 8, events: [{ type: 'Credited', data: { amount: 5 } }] },
]);

// Reads are async iterables that page through the store.
for await (const e of log.readStream('orders/eu/order-42', { from: 1 })) console.log(e.version, e.type);
for await (const e of log.readAll({ from: 1, pattern: 'orders/*/order-42' })) console.log(e.position);

// Browse the hierarchy.
await log.listChildren('orders');   // { entries: [{ name: 'orders/eu', isStream: false, hasChildren: true }, ...] }

// Live: catch-up from a position, then new events, no gap and no duplicate (an RxJS Observable).
log.subscribe('orders/>', { from: 1 }).subscribe((e) => console.log(e.stream, e.type));
// #endregion readme
