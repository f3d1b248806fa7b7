/**
 * README snippet "Aggregates: testing a domain".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import { Account } from './aggregate.js';

// #region readme
import { checkAggregate, scenario } from '@strand/aggregate/testing';

scenario(Account).given([{ type: 'Credited', data: { amount: 10 } }])
  .when({ type: 'Withdraw', data: { amount: 11 } })
  .thenFails('INSUFFICIENT_FUNDS');

// Random command sequences (arbitraries derived from the zod schemas): checks your invariants after
// every accepted command, that decide/evolve are pure and deterministic, that events survive JSON
// and msgpack round trips, and that snapshot + tail == full replay at every point. Prints the seed.
checkAggregate(Account, { invariants: [(s) => s.balance >= 0] });
// #endregion readme
