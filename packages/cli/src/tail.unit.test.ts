import { EventLog, openLog } from '@strand/core';
import { S3Level } from '@strand/store-s3';
import { InMemoryObjectStore } from '@strand/store-s3/testing';
import { describe, expect, it } from 'vitest';
import { tail } from './tail.js';

// Issue 21 item 23: on S3, `strand tail` follows one follower instead of reopening (a LIST) per poll.
describe('tail', () => {
  it('on S3 follows one read-only follower as the writer commits: opened once, never polled by tail', async () => {
    const store = new InMemoryObjectStore();
    const opts = { flushIntervalMs: 0, keyEncoding: 'view', valueEncoding: 'view' } as const;
    const writer = await EventLog.open({ store: new S3Level({ store, ...opts } as never), ownsStore: true });
    await writer.append('orders/old', [{ type: 'Placed', data: 0 }]);
    let opens = 0;
    let sleeps = 0;
    let level: S3Level | undefined;
    const seen: number[] = [];
    const printing = tail({
      open: async () => {
        opens++;
        level = new S3Level({ store, ...opts, readOnly: true, pollIntervalMs: 3_600_000 } as never);
        return EventLog.open({ store: level, ownsStore: true });
      },
      reopen: false,
      pattern: 'orders/>',
      from: 'end',
      count: 3,
      intervalMs: 1,
      onEvent: (e) => seen.push(e.data as number),
      stopped: () => false,
      sleep: async () => {
        sleeps++;
      },
    });
    while (level === undefined) await new Promise<void>((r) => setImmediate(r));
    for (let n = 1; n <= 3; n++) {
      await writer.append('orders/new', [{ type: 'Placed', data: n }]);
      // The follower's own poll (here driven by hand) is what moves the tail along.
      await level.refresh();
    }
    expect(await printing).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    expect([opens, sleeps]).toEqual([1, 0]);
    await writer.close();
  });

  it('stops following when its signal aborts (Ctrl-C)', async () => {
    const log = await openLog({ memory: true });
    const abort = new AbortController();
    let opened = false;
    const printing = tail({
      open: async () => {
        opened = true;
        return Object.create(log, { close: { value: async () => {} } }) as EventLog;
      },
      reopen: false,
      pattern: '>',
      from: 'end',
      intervalMs: 1,
      signal: abort.signal,
      onEvent: () => {},
      stopped: () => abort.signal.aborted,
      sleep: async () => {},
    });
    while (!opened) await new Promise<void>((r) => setImmediate(r));
    abort.abort();
    expect(await printing).toBe(0);
    await log.close();
  });

  it('reopens for every poll when the store allows one process at a time (LevelDB)', async () => {
    const log = await openLog({ memory: true });
    let opens = 0;
    const shared = Object.create(log, { close: { value: async () => {} } }) as EventLog;
    await tail({
      open: async () => {
        opens++;
        return shared;
      },
      reopen: true,
      pattern: '>',
      from: 1,
      count: 2,
      intervalMs: 1,
      onEvent: () => {},
      stopped: () => false,
      sleep: async () => {
        await log.append('a/b', [{ type: 'T', data: 1 }]);
      },
    });
    expect(opens).toBeGreaterThanOrEqual(2);
    await log.close();
  });
});
