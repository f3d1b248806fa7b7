/**
 * Aggregates and projections run unchanged on the client: the same classes, an `EventStore` that
 * happens to be across the network. Their local state (snapshots, checkpoints, read models) lives
 * in the client's state store.
 */
import { AggregateRepository } from '@strand/aggregate';
import { isStrandError } from '@strand/core';
import { appendAndConfirm, defineProjection, ProjectionRunner } from '@strand/projections';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Account } from '../../examples/src/bank/account.js';
import { cleanup, type Running, startServer } from './harness.js';

let s: Running;
beforeEach(async () => {
  s = await startServer('leveldb');
});
afterEach(() => s.close());
afterAll(cleanup);

describe('AggregateRepository on @strand/client', () => {
  it('handles commands with conflicts retried, domain errors, command ids and snapshots', async () => {
    // One hot stream, two writers in tight loops: the loser of a race backs off, so give it room.
    const clientA = s.client();
    const a = new AggregateRepository(clientA, Account, { snapshots: { every: 10 }, maxRetries: 30 });
    const b = new AggregateRepository(s.client(), Account, { maxRetries: 30 });
    await a.handle('eu/1', { type: 'Open', data: { owner: 'Ada' } });
    // Two repositories on two connections race on one stream: every command lands once.
    const worker = async (repo: typeof a) => {
      for (let i = 0; i < 20; i++) await repo.handle('eu/1', { type: 'Deposit', data: { amount: 1 } });
    };
    await Promise.all([worker(a), worker(b)]);
    expect((await a.load('eu/1')).state.balance).toBe(40);
    expect((await s.log.streamInfo('accounts/eu/1'))?.version).toBe(41);
    try {
      await a.handle('eu/1', { type: 'Withdraw', data: { amount: 41 } });
      expect.unreachable();
    } catch (error) {
      expect(isStrandError(error, 'STRAND_DOMAIN_REJECTED')).toBe(true);
    }
    const first = await a.handle('eu/1', { type: 'Withdraw', data: { amount: 5 } }, { commandId: 'cmd-1' });
    const again = await a.handle('eu/1', { type: 'Withdraw', data: { amount: 5 } }, { commandId: 'cmd-1' });
    expect(again.idempotent).toBe(true);
    expect(again.position).toBe(first.position);
    expect((await a.load('eu/1')).state.balance).toBe(35);
    // Snapshots were taken (in the client's local state) and loading uses them.
    await a.snapshot('eu/1');
    expect((await a.load('eu/1')).source).toBe('cache');
    // A repository that has not folded the stream starts from the snapshot (kept in the client's local state).
    const loaded = await new AggregateRepository(clientA, Account).load('eu/1');
    expect([loaded.source, loaded.snapshotVersion, loaded.replayed, loaded.state.balance]).toEqual(['snapshot', 42, 0, 35]);
  });
});

describe('ProjectionRunner on @strand/client', () => {
  it('follows the server, applies every event once, and reads its own writes', async () => {
    const client = s.client();
    const balances = defineProjection({
      name: 'balances',
      patterns: ['accounts/>'],
      handlers: {
        Credited: (e, tx) => tx.update<{ balance: number }>('byAccount', e.stream, (d) => ({ balance: (d?.balance ?? 0) + (e.data as { amount: number }).amount })),
      },
    });
    await s.log.append('accounts/eu/1', [{ type: 'Credited', data: { amount: 5 } }]);
    const runner = new ProjectionRunner(client, balances, { concurrency: 4 });
    await runner.start();
    const writes = await Promise.all(Array.from({ length: 30 }, (_, i) => client.append(`accounts/eu/${i % 3}`, [{ type: 'Credited', data: { amount: 1 } }])));
    await runner.waitFor(Math.max(...writes.map((w) => w.position)));
    expect(await runner.view().get('byAccount', 'accounts/eu/1')).toEqual({ balance: 15 });
    const r = await appendAndConfirm(client, [runner], 'accounts/eu/2', [{ type: 'Credited', data: { amount: 100 } }]);
    expect(await runner.view().get('byAccount', 'accounts/eu/2')).toEqual({ balance: 110 });
    const st = await runner.status();
    expect(st.head).toBe(r.position);
    expect(st.lagEvents).toBe(0);
    await runner.stop();
  });
});
