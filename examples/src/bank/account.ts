/**
 * The bank's account aggregate: a decider with zod schemas for its commands, events and state.
 *
 * @module
 */
import { defineAggregate, ensure } from '@strand/aggregate';
import { z } from 'zod';

const amount = z.number().int().positive().max(1_000_000);

/** A bank account: opened, credited, debited, closed. Balances never go below zero. */
export const Account = defineAggregate({
  name: 'account',
  // accounts/<branch>/<number>: hierarchical, so `accounts/eu/>` follows one branch.
  stream: (id) => `accounts/${id}`,
  commands: {
    Open: z.object({ owner: z.string().min(1).max(40) }),
    Deposit: z.object({ amount }),
    Withdraw: z.object({ amount }),
    Close: z.object({}),
  },
  events: {
    Opened: z.object({ owner: z.string() }),
    Credited: z.object({ amount: z.number().int(), transfer: z.string().optional() }),
    Debited: z.object({ amount: z.number().int(), transfer: z.string().optional() }),
    Closed: z.object({}),
  },
  state: z.object({ status: z.enum(['new', 'open', 'closed']), owner: z.string(), balance: z.number().int().nonnegative() }),
  initialState: () => ({ status: 'new' as const, owner: '', balance: 0 }),
  decide: {
    Open: (c, s) => {
      ensure(s.status === 'new', 'ALREADY_OPEN', 'This account is already open.');
      return { type: 'Opened', data: { owner: c.owner } };
    },
    Deposit: (c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Deposits need an open account.');
      return { type: 'Credited', data: { amount: c.amount } };
    },
    Withdraw: (c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Withdrawals need an open account.');
      ensure(s.balance >= c.amount, 'INSUFFICIENT_FUNDS', `The balance (${s.balance}) does not cover ${c.amount}.`);
      return { type: 'Debited', data: { amount: c.amount } };
    },
    Close: (_c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Only an open account can be closed.');
      ensure(s.balance === 0, 'NOT_EMPTY', 'Withdraw the balance before closing.');
      return { type: 'Closed', data: {} };
    },
  },
  evolve: {
    Opened: (s, e) => ({ ...s, status: 'open' as const, owner: e.owner }),
    Credited: (s, e) => ({ ...s, balance: s.balance + e.amount }),
    Debited: (s, e) => ({ ...s, balance: s.balance - e.amount }),
    Closed: (s) => ({ ...s, status: 'closed' as const }),
  },
});
