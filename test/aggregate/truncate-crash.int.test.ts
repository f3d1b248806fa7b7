import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregateRepository } from '@strand/aggregate';
import { openLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { Account } from '../../packages/aggregate/src/account.fixture.js';
import { runUntilKilled } from '../support/child.js';

// A real process is SIGKILLed after its snapshot is durably written and before the truncation
// that follows it: on restart, no state is lost and truncation can proceed.
const child = fileURLToPath(new URL('./truncate-crash-child.ts', import.meta.url));

async function runUntilArchiving(dir: string): Promise<number> {
  let acked = 0;
  await runUntilKilled(child, [dir], (line) => {
    if (line.startsWith('ACK ')) acked = Number(line.slice(4));
    return line === 'ARCHIVING';
  });
  return acked;
}

describe('crash between snapshot and truncation', () => {
  it('loses no state, and truncation completes after restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-trunc-crash-'));
    try {
      const acked = await runUntilArchiving(dir);
      expect(acked).toBeGreaterThanOrEqual(10);
      const log = await openLog({ path: dir });
      const info = await log.streamInfo('accounts/crash');
      expect(info?.truncatedBefore).toBe(1);
      expect(info!.version).toBeGreaterThanOrEqual(acked);
      const accounts = new AggregateRepository(log, Account, { retention: { mode: 'truncate' } });
      expect((await accounts.storedSnapshot('crash'))?.version).toBe(10);
      const before = await accounts.load('crash');
      expect(before.snapshotVersion).toBe(10);
      const deposits = info!.version - 1;
      expect(before.state.balance).toBe((deposits * (deposits + 1)) / 2);
      const t = await accounts.snapshot('crash');
      expect(t.truncated).toBe(info!.version);
      const after = await accounts.load('crash');
      expect([after.state, after.replayed]).toEqual([before.state, 0]);
      await accounts.close();
      await log.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
