/**
 * What the repository refuses to load from a stored snapshot (docs/design/0004-snapshots.md): a
 * snapshot newer than the stream's head, and one whose state does not match the state schema.
 * Each test fails if its check in `usableSnapshot` is removed.
 */
import { type EventLog, openLog } from '@strand/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Account } from './account.fixture.js';
import { AggregateRepository } from './repository.js';
import { SnapshotStore } from './snapshots.js';

let log: EventLog;
beforeEach(async () => {
  log = await openLog({ memory: true });
});
afterEach(() => log.close());

const repository = () => new AggregateRepository(log, Account);

/** An open account with a balance of 6 at version 4. */
async function accountAtVersion4(accounts: ReturnType<typeof repository>, id: string): Promise<void> {
  await accounts.handle(id, { type: 'Open', data: { owner: 'gus' } });
  for (let i = 0; i < 3; i++) await accounts.handle(id, { type: 'Deposit', data: { amount: 2 } });
}

describe('AggregateRepository loading a stored snapshot', () => {
  it('ignores a snapshot newer than the stream\'s head and folds the events instead', async () => {
    const writer = repository();
    await accountAtVersion4(writer, 'n');
    await writer.close();
    // A snapshot from a future the log does not have (e.g. the log was restored from an older
    // backup than the snapshots, or the stream was deleted and started again).
    await new SnapshotStore(log).put('accounts/n', { format: 1, aggregate: 'account', stateVersion: Account.stateVersion, version: 9, state: { status: 'open', owner: 'gus', balance: 900, ops: 9 }, takenAt: 0 });
    // A repository that has not folded the stream yet (a restarted process) looks at the snapshot.
    const accounts = repository();
    const loaded = await accounts.load('n');
    expect([loaded.source, loaded.snapshotVersion, loaded.version, loaded.replayed, loaded.state.balance]).toEqual(['events', 0, 4, 4, 6]);
    // The next command appends at the real head, not after the snapshot's version.
    const r = await accounts.handle('n', { type: 'Deposit', data: { amount: 1 } });
    expect(r.version).toBe(5);
    await accounts.close();
  });

  it('checks a loaded snapshot against the state schema and ignores one that does not match', async () => {
    const writer = repository();
    await accountAtVersion4(writer, 's');
    // The writer answers from its folded state, never reading the snapshot.
    expect((await writer.load('s')).source).toBe('cache');
    await writer.close();
    // Same aggregate, same state version, but the state breaks the schema (a negative balance,
    // a status that does not exist): written by a buggy older build or edited by hand.
    await new SnapshotStore(log).put('accounts/s', { format: 1, aggregate: 'account', stateVersion: Account.stateVersion, version: 3, state: { status: 'frozen', owner: 'gus', balance: -5, ops: 3 }, takenAt: 0 });
    const accounts = repository();
    const loaded = await accounts.load('s');
    expect([loaded.source, loaded.snapshotVersion, loaded.version, loaded.replayed, loaded.state]).toEqual(['events', 0, 4, 4, { status: 'open', owner: 'gus', balance: 6, ops: 4 }]);
    expect(accounts.stats.snapshotsIgnored).toBe(1);
    await accounts.close();
  });
});
