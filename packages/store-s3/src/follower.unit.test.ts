import { EventLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';
import { s3LogDefaults } from './url.js';

describe('follower refresh events', () => {
  it("emits 'refresh' after a refresh that saw new WAL objects or a new manifest, and only then", async () => {
    const store = new InMemoryObjectStore();
    const writer = new S3Level<string, string>({ store, flushIntervalMs: 0 });
    await writer.open();
    await writer.put('a', '1');
    const follower = new S3Level<string, string>({ store, readOnly: true, pollIntervalMs: 3_600_000 });
    await follower.open();
    let events = 0;
    follower.on('refresh' as never, () => events++);
    await follower.refresh();
    expect(events).toBe(0); // nothing new
    await writer.put('b', '2');
    await follower.refresh();
    expect(events).toBe(1);
    expect(await follower.get('b')).toBe('2');
    await writer.flushMemtable(); // a new manifest (and a WAL cut)
    await follower.refresh();
    expect(events).toBe(2);
    await follower.refresh();
    expect(events).toBe(2);
    await follower.close();
    await writer.close();
  });

  it("moves the follower's event log along: position, head$, readAll, follow and subscribe (issue 23)", async () => {
    const store = new InMemoryObjectStore();
    const opts = { flushIntervalMs: 0, keyEncoding: 'view', valueEncoding: 'view' } as const;
    const writer = await EventLog.open({ ...s3LogDefaults, store: new S3Level({ store, ...opts } as never), ownsStore: true });
    await writer.append('orders/f/o-1', [{ type: 'Placed', data: { n: 1 } }]);
    const followerLevel = new S3Level({ store, ...opts, readOnly: true, pollIntervalMs: 3_600_000 } as never);
    const follower = await EventLog.open({ store: followerLevel, ownsStore: true });
    expect(follower.position).toBe(1);
    const live: number[] = [];
    const sub = follower.subscribe('orders/>', { from: 1 }).subscribe((e) => live.push(e.position));
    const followed: number[] = [];
    const following = (async () => {
      for await (const e of follower.follow('orders/>', { from: 1 })) {
        followed.push(e.position);
        if (followed.length === 6) return;
      }
    })();
    for (let i = 2; i <= 6; i++) await writer.append(`orders/f/o-${i}`, [{ type: 'Placed', data: { n: i } }]);
    await followerLevel.refresh();
    await follower.waitForPosition(6, 10_000);
    expect(follower.position).toBe(6);
    const all: number[] = [];
    for await (const e of follower.readAll({ from: 1 })) all.push(e.position);
    expect(all).toEqual([1, 2, 3, 4, 5, 6]);
    await following;
    expect(followed).toEqual([1, 2, 3, 4, 5, 6]);
    while (live.length < 6) await new Promise<void>((r) => setImmediate(r));
    expect(live).toEqual([1, 2, 3, 4, 5, 6]);
    sub.unsubscribe();
    await follower.close();
    await writer.close();
  });
});
