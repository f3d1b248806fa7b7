import { AggregateRepository } from '@strand/aggregate';
import { isStrandError, openLog } from '@strand/core';
import { confirmProjections, defineProjection, ProjectionRunner } from '@strand/projections';
import { describe, expect, it } from 'vitest';
import { Account } from '../../packages/aggregate/src/account.fixture.js';

// A command awaited until its read model is updated: the aggregate handler's afterCommit hook
// waits on the projection runner.
describe('read-your-writes through the command handler', () => {
  it('resolves a command only once the projection has applied it, and names a late projection', async () => {
    const log = await openLog({ memory: true });
    const balances = defineProjection({
      name: 'balances',
      patterns: ['accounts/>'],
      handlers: {
        Deposited: (e, tx) => tx.update<number>('b', e.stream, (d) => (d ?? 0) + (e.data as { amount: number }).amount),
        Withdrawn: (e, tx) => tx.update<number>('b', e.stream, (d) => (d ?? 0) - (e.data as { amount: number }).amount),
      },
    });
    const runner = new ProjectionRunner(log, balances);
    await runner.start();
    const accounts = new AggregateRepository(log, Account);
    const confirm = { afterCommit: confirmProjections([runner]) };
    await accounts.handle('ryw', { type: 'Open', data: { owner: 'ann' } }, confirm);
    for (let i = 1; i <= 10; i++) {
      await accounts.handle('ryw', { type: 'Deposit', data: { amount: i } }, confirm);
      // No waiting here: the command resolved only after the read model had it.
      expect(await runner.view().get('b', 'accounts/ryw')).toBe((i * (i + 1)) / 2);
    }
    await runner.stop();
    const late = await accounts.handle('ryw', { type: 'Withdraw', data: { amount: 1 } }, { afterCommit: confirmProjections([runner], { timeoutMs: 50 }) }).catch((e: unknown) => e);
    expect(isStrandError(late, 'STRAND_PROJECTION_STOPPED')).toBe(true);
    expect((await accounts.load('ryw')).state.balance).toBe(54);
    await accounts.close();
    await log.close();
  });
});
