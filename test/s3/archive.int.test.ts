import { AggregateRepository } from '@strand/aggregate';
import { openLog, type RecordedEvent } from '@strand/core';
import { s3Archive } from '@strand/store-s3';
import { ensureRgw, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { describe, expect, it } from 'vitest';
import { Account } from '../../packages/aggregate/src/account.fixture.js';

// Truncated history goes to immutable objects in a real S3 bucket (Ceph RGW) and reads back.
describe('S3 archive tier for truncated history', () => {
  it('archives what truncation removes and reads it back in order', async () => {
    const store = rgwStore(await ensureRgw());
    const archive = s3Archive(store, uniquePrefix('archive'));
    const log = await openLog({ memory: true });
    try {
      const accounts = new AggregateRepository(log, Account, { snapshots: { every: 10 }, retention: { mode: 'truncate', archive: archive.archive } });
      await accounts.handle('acme/7', { type: 'Open', data: { owner: 'zoe' } });
      const all: RecordedEvent[] = [];
      for (let i = 1; i <= 24; i++) await accounts.handle('acme/7', { type: 'Deposit', data: { amount: i } });
      await accounts.flush();
      const info = await log.streamInfo('accounts/acme/7');
      expect(info?.truncatedBefore).toBe(21);
      for await (const e of archive.read('accounts/acme/7')) all.push(e);
      expect(all.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(all[1]?.data).toEqual({ amount: 1 });
      expect((await archive.ranges('accounts/acme/7')).map((r) => [r.from, r.to])).toEqual([
        [1, 10],
        [11, 20],
      ]);
      const tail: number[] = [];
      for await (const e of archive.read('accounts/acme/7', { from: 15 })) tail.push(e.version);
      expect(tail).toEqual([15, 16, 17, 18, 19, 20]);
      // Retrying an archive call rewrites the same object: still two ranges.
      await archive.archive('accounts/acme/7', all.slice(0, 10));
      expect(await archive.ranges('accounts/acme/7')).toHaveLength(2);
      await expect(archive.archive('accounts/acme/7', [all[0]!, all[2]!])).rejects.toThrow(/contiguous/);
      await accounts.close();
    } finally {
      await log.close();
      store.destroy();
    }
  });
});
