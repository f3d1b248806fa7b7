// A small bank account aggregate used by this package's tests.
import { z } from 'zod';
import { defineAggregate, ensure } from './define.js';

export const Account = defineAggregate({
  name: 'account',
  stream: (id) => `accounts/${id}`,
  commands: {
    Open: z.object({ owner: z.string().min(1).max(20) }),
    Deposit: z.object({ amount: z.number().int().min(1).max(1000) }),
    Withdraw: z.object({ amount: z.number().int().min(1).max(1000) }),
    Close: z.object({}),
  },
  events: {
    Opened: z.object({ owner: z.string() }),
    Deposited: z.object({ amount: z.number().int() }),
    Withdrawn: z.object({ amount: z.number().int() }),
    Closed: z.object({}),
  },
  state: z.object({ status: z.enum(['new', 'open', 'closed']), owner: z.string(), balance: z.number().int().min(0), ops: z.number().int() }),
  initialState: () => ({ status: 'new' as const, owner: '', balance: 0, ops: 0 }),
  decide: {
    Open: (c, s) => {
      ensure(s.status === 'new', 'ALREADY_OPEN', 'The account is already open.');
      return { type: 'Opened', data: { owner: c.owner } };
    },
    Deposit: (c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Deposits need an open account.');
      return { type: 'Deposited', data: { amount: c.amount } };
    },
    Withdraw: (c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Withdrawals need an open account.');
      ensure(s.balance >= c.amount, 'INSUFFICIENT_FUNDS', `Balance ${s.balance} is below ${c.amount}.`);
      return { type: 'Withdrawn', data: { amount: c.amount } };
    },
    Close: (_c, s) => {
      ensure(s.status === 'open', 'NOT_OPEN', 'Only an open account can be closed.');
      ensure(s.balance === 0, 'NOT_EMPTY', 'Withdraw the balance first.');
      return [{ type: 'Closed', data: {} }];
    },
  },
  evolve: {
    Opened: (s, e) => ({ ...s, status: 'open' as const, owner: e.owner, ops: s.ops + 1 }),
    Deposited: (s, e) => ({ ...s, balance: s.balance + e.amount, ops: s.ops + 1 }),
    Withdrawn: (s, e) => ({ ...s, balance: s.balance - e.amount, ops: s.ops + 1 }),
    Closed: (s) => ({ ...s, status: 'closed' as const, ops: s.ops + 1 }),
  },
});
