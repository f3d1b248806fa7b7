import { EventLog, isStrandError } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';
import { s3LogDefaults } from './url.js';

const level = (store: InMemoryObjectStore) => new S3Level({ store, flushIntervalMs: 0, keyEncoding: 'view', valueEncoding: 'view' } as never);

describe('a fenced writer seen through the event log', () => {
  it('fails every append with STRAND_FENCED (kind closed), also with groups in flight, and writes nothing', async () => {
    const bucket = new InMemoryObjectStore();
    const staleLevel = level(bucket);
    const stale = await EventLog.open({ ...s3LogDefaults, store: staleLevel, ownsStore: true });
    await stale.append('orders/x/o-1', [{ type: 'Placed', data: {} }]);
    const freshLevel = level(bucket);
    const fresh = await EventLog.open({ ...s3LogDefaults, store: freshLevel, ownsStore: true });
    // Several groups at once: the pipeline's later groups must report the fence too, not "retry".
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => stale.append(`orders/x/o-${i + 2}`, [{ type: 'Placed', data: {} }])));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as unknown;
      expect(isStrandError(err, 'STRAND_FENCED'), String(err)).toBe(true);
      expect(err).toMatchObject({ kind: 'closed' });
    }
    const freshEpoch = freshLevel.epoch;
    expect(freshEpoch).toBe(staleLevel.epoch + 1);
    await fresh.append('orders/x/o-1', [{ type: 'Shipped', data: {} }], { expectedVersion: 1 });
    expect(fresh.position).toBe(2);
    await stale.close().catch(() => undefined);
    await fresh.close();
    const nextLevel = level(bucket);
    const reader = await EventLog.open({ ...s3LogDefaults, store: nextLevel, ownsStore: true });
    expect(reader.position).toBe(2);
    expect(nextLevel.epoch).toBe(freshEpoch + 1); // nothing else opened a writer in between
    await reader.close();
  });
});
