/**
 * A business rule that spans two streams: a transfer debits one account and credits another in
 * ONE atomic multi-stream append, each stream guarded by its expected version, through a
 * `UnitOfWork`. Either both events are written or neither; a concurrent change to either account
 * makes the whole decision run again (jittered backoff); the transfer id makes it idempotent.
 *
 * @module
 */
import { type RepositoryOf, UnitOfWork } from '@strand/aggregate';
import type { EventLog } from '@strand/core';
import type { Account } from './account.js';

/** Result of a transfer. */
export interface TransferResult {
  /** Global position of the commit. */
  position: number;
  /** Conflicts retried. */
  retries: number;
}

/** Moves `amount` from one account to another atomically. Throws the domain error if refused. */
export async function transfer(log: EventLog, accounts: RepositoryOf<typeof Account>, from: string, to: string, amount: number, id: string): Promise<TransferResult> {
  const uow = new UnitOfWork(log);
  try {
    const r = await uow.run(
      async (tx) => {
        await tx.handle(accounts, from, { type: 'Withdraw', data: { amount } });
        await tx.handle(accounts, to, { type: 'Deposit', data: { amount } });
      },
      { commandId: id, metadata: { transfer: id } },
    );
    return { position: r.position, retries: r.retries };
  } finally {
    uow.close();
  }
}
