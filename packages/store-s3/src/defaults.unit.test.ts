import { EventLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import type { ObjectStore, PutOptions, PutResult } from './object-store/types.js';
import { S3Level } from './s3-level.js';
import { openS3Log } from './url.js';

// Issue 21 item 12: the README's plain `EventLog.open({ store: new S3Level(...) })` must get the
// fast, safe defaults (WAL PUTs as soon as a slot is free, group commits pipelined), and
// openS3Log must take an object store and engine options and hand back its S3Level.

/** Only zero-delay timers fire: a store that waits for a flush window never writes. */
const noWindows: Clock = {
  now: () => 1_000_000,
  sleep: (ms) => (ms <= 0 ? new Promise<void>((resolve) => setImmediate(resolve)) : new Promise<void>(() => {})),
};

/** Holds WAL PUTs until released; counts those started. */
class GatedStore implements ObjectStore {
  walPutsStarted = 0;
  private readonly held: Array<() => void> = [];
  open = false;
  constructor(private readonly inner: ObjectStore) {}
  get(key: string) {
    return this.inner.get(key);
  }
  getRange(key: string, start: number, end: number) {
    return this.inner.getRange(key, start, end);
  }
  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (key.includes('wal/')) {
      this.walPutsStarted++;
      if (!this.open) await new Promise<void>((resolve) => this.held.push(resolve));
    }
    return this.inner.put(key, body, options);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  list(prefix: string, options?: Parameters<ObjectStore['list']>[1]) {
    return this.inner.list(prefix, options);
  }
  release(): void {
    this.open = true;
    for (const r of this.held.splice(0)) r();
  }
}

/** Resolves once `cond` holds, checking after each turn of the event loop; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('S3 defaults (issue 21 item 12)', () => {
  it('an append on a plain new S3Level is sent without waiting for a flush window', async () => {
    const level = new S3Level<Uint8Array, Uint8Array>({ store: new InMemoryObjectStore(), clock: noWindows, keyEncoding: 'view', valueEncoding: 'view', compaction: false, gc: false });
    const log = await EventLog.open({ store: level, ownsStore: true });
    const appended = log.append('orders/1', [{ type: 'Placed', data: { n: 1 } }]);
    let done = false;
    void appended.then(() => (done = true));
    await until(() => done, 'the append (a flush window that never ends holds it)');
    expect((await appended).version).toBe(1);
    await log.close();
  });

  it('EventLog.open keeps several group commits in flight on an S3Level without being told', async () => {
    const gated = new GatedStore(new InMemoryObjectStore());
    const level = new S3Level<Uint8Array, Uint8Array>({ store: gated, keyEncoding: 'view', valueEncoding: 'view', compaction: false, gc: false });
    gated.release();
    const log = await EventLog.open({ store: level, ownsStore: true });
    gated.open = false;
    const before = gated.walPutsStarted;
    const first = log.append('orders/1', [{ type: 'Placed', data: { n: 1 } }]);
    await until(() => gated.walPutsStarted > before, 'the first WAL PUT');
    // The first group is not acknowledged (its PUT is held); the next one is written meanwhile.
    const second = log.append('orders/2', [{ type: 'Placed', data: { n: 2 } }]);
    await until(() => gated.walPutsStarted > before + 1, 'a second WAL PUT while the first is in flight');
    gated.release();
    expect([(await first).position, (await second).position]).toEqual([1, 2]);
    await log.close();
  });

  it('openS3Log takes an object store and engine options and returns its S3Level', async () => {
    const store = new InMemoryObjectStore();
    const { log, level } = await openS3Log('s3://bucket/logs/orders/', { objectStore: store, engine: { walPutsInFlight: 3, compaction: false } });
    expect(level).toBeInstanceOf(S3Level);
    await log.append('orders/1', [{ type: 'Placed', data: { n: 1 } }]);
    expect(level.requests.put).toBeGreaterThan(0);
    expect((await store.list('logs/orders/')).length).toBeGreaterThan(0);
    await log.close();
    expect(level.status).toBe('closed');
  });

  it('one name per durability mode: the log\'s "buffered" is accepted by S3Level', () => {
    expect(() => new S3Level({ store: new InMemoryObjectStore(), durability: 'buffered' })).not.toThrow();
    expect(() => new S3Level({ store: new InMemoryObjectStore(), durability: 'maybe' as never })).toThrow(/'sync' or 'buffered'/);
  });
});
