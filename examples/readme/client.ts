/**
 * README snippet "Run it as a server: the client".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import { Account } from './aggregate.js';

// #region readme
import { connect } from '@strand/client';
import { AggregateRepository } from '@strand/aggregate';

const store = connect({ url: 'http://127.0.0.1:7070', apiKey: process.env.STRAND_API_KEY! });
await store.append('orders/eu/order-42', [{ type: 'OrderPlaced', data: { total: 42 } }], { expectedVersion: 'no_stream' });
store.subscribe('orders/>', { from: 1 }).subscribe((e) => console.log(e.position, e.type));   // reconnects, no gap, no duplicate
const accounts = new AggregateRepository(store, Account);    // snapshots live in the client's `state` store
// #endregion readme
