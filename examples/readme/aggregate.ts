/**
 * README snippet "Aggregates: deciders with snapshots that truncate history".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
import type { EventLog } from '@strand/core';

declare const log: EventLog;

// #region readme
import { AggregateRepository, defineAggregate, ensure } from '@strand/aggregate';
import { z } from 'zod';

const Account = defineAggregate({
  name: 'account',
  stream: (id) => `accounts/${id}`,                         // e.g. accounts/eu/acct-7
  commands: { Deposit: z.object({ amount: z.number().int().positive() }), Withdraw: z.object({ amount: z.number().int().positive() }) },
  events: { Credited: z.object({ amount: z.number().int() }), Debited: z.object({ amount: z.number().int() }) },
  state: z.object({ balance: z.number().int().nonnegative() }),
  initialState: () => ({ balance: 0 }),
  decide: {
    Deposit: (c) => ({ type: 'Credited', data: { amount: c.amount } }),
    Withdraw: (c, s) => {
      ensure(s.balance >= c.amount, 'INSUFFICIENT_FUNDS', 'Not enough money.');
      return { type: 'Debited', data: { amount: c.amount } };
    },
  },
  evolve: {                                                   // a handler for an undeclared event does not compile
    Credited: (s, e) => ({ balance: s.balance + e.amount }),
    Debited: (s, e) => ({ balance: s.balance - e.amount }),
  },
});

const accounts = new AggregateRepository(log, Account, {
  snapshots: { every: 100 },                                 // or { whenReplayOver: 500 }, or accounts.snapshot(id)
  retention: { mode: 'truncate', keepLast: 10, archive: async (stream, events) => { /* e.g. to S3 */ } },
});
await accounts.handle('eu/acct-7', { type: 'Deposit', data: { amount: 50 } }, { commandId: 'cmd-123' });
// #endregion readme

export { Account, accounts };
