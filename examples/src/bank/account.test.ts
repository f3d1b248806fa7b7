import { checkAggregate, scenario } from '@strand/aggregate/testing';
import { openLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { Account } from './account.js';
import { runBank } from './run.js';

describe('bank example', () => {
  it('keeps its rules (given/when/then)', () => {
    const open = scenario(Account).given([{ type: 'Opened', data: { owner: 'Ada' } }, { type: 'Credited', data: { amount: 10 } }]);
    open.when({ type: 'Withdraw', data: { amount: 10 } }).thenEvents([{ type: 'Debited', data: { amount: 10 } }]);
    open.when({ type: 'Withdraw', data: { amount: 11 } }).thenFails('INSUFFICIENT_FUNDS');
    open.when({ type: 'Close', data: {} }).thenFails('NOT_EMPTY');
    scenario(Account).given([]).when({ type: 'Deposit', data: { amount: 1 } }).thenFails('NOT_OPEN');
  });

  it('never lets a balance go negative, whatever the commands (property)', () => {
    const report = checkAggregate(Account, { invariants: [(s) => s.balance >= 0, (s) => s.status !== 'closed' || s.balance === 0], parameters: { numRuns: 200 } });
    expect(report.accepted).toBeGreaterThan(0);
  });

  it('runs end to end and its read models agree with the aggregates', async () => {
    const log = await openLog({ memory: true });
    try {
      const lines = await runBank(log);
      const rows = lines.filter((l) => /^ {2}(alice|bob|chen) /.test(l));
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        const m = /^ {2}\w+\s+(\d+)\s+\(aggregate state: (\d+)\)$/.exec(row);
        expect(m?.[1]).toBe(m?.[2]);
      }
      // Money is conserved: 1000 + 600 deposited in total.
      const total = rows.reduce((n, r) => n + Number(/\s(\d+)\s+\(/.exec(r)![1]), 0);
      expect(total).toBe(1600);
    } finally {
      await log.close();
    }
  });
});
