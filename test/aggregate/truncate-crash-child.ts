/**
 * Child of the snapshot/truncation crash test: handles commands with snapshots every 10 events and
 * truncation; its archive hook announces itself and then hangs, so the parent can SIGKILL it after
 * the snapshot is written and before the truncation runs.
 */
import { AggregateRepository } from '@strand/aggregate';
import { openLog } from '@strand/core';
import { Account } from '../../packages/aggregate/src/account.fixture.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: truncate-crash-child.ts <dir>');
const log = await openLog({ path: dir });
const accounts = new AggregateRepository(log, Account, {
  snapshots: { every: 10 },
  retention: {
    mode: 'truncate',
    archive: async () => {
      process.stdout.write('ARCHIVING\n');
      await new Promise(() => {});
    },
  },
});
await accounts.handle('crash', { type: 'Open', data: { owner: 'kim' } });
for (let i = 1; ; i++) {
  const r = await accounts.handle('crash', { type: 'Deposit', data: { amount: i } });
  process.stdout.write(`ACK ${r.version}\n`);
}
