/**
 * A business rule that spans two streams: a transfer debits one account and credits another in
 * ONE atomic multi-stream append, each stream guarded by its expected version. Either both events
 * are written or neither; a concurrent change to either account makes it retry.
 *
 * @module
 */
import type { AggregateRepository } from '@strand/aggregate';
import { type EventLog, isStrandError } from '@strand/core';
import { Account } from './account.js';

/** Result of a transfer. */
export interface TransferResult {
  /** Global position of the commit. */
  position: number;
  /** Conflicts retried. */
  retries: number;
}

/** Moves `amount` from one account to another atomically. Throws the domain error if refused. */
export async function transfer(log: EventLog, accounts: AggregateRepository<typeof Account.definition.commands, typeof Account.definition.events, typeof Account.definition.state>, from: string, to: string, amount: number, id: string): Promise<TransferResult> {
  for (let retries = 0; ; retries++) {
    const [a, b] = await Promise.all([accounts.load(from), accounts.load(to)]);
    const now = Date.now();
    const debit = Account.decide(Account.parseCommand({ type: 'Withdraw', data: { amount } }), a.state, { id: from, now });
    const credit = Account.decide(Account.parseCommand({ type: 'Deposit', data: { amount } }), b.state, { id: to, now });
    try {
      const r = await log.appendMulti([
        { stream: Account.streamOf(from), expectedVersion: a.version, events: debit.map((e, i) => ({ type: e.type, data: { ...e.data, transfer: id }, id: `${id}:debit:${i}` })) },
        { stream: Account.streamOf(to), expectedVersion: b.version, events: credit.map((e, i) => ({ type: e.type, data: { ...e.data, transfer: id }, id: `${id}:credit:${i}` })) },
      ]);
      return { position: r.position, retries };
    } catch (error) {
      if (!isStrandError(error, 'STRAND_WRONG_EXPECTED_VERSION') || retries >= 20) throw error;
    }
  }
}
