import { EventLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import { walKey } from './wal/format.js';
import { S3Level } from './s3-level.js';
import { s3LogDefaults } from './url.js';

/** A bucket whose GETs of one key wait until the test lets them through. */
class GetGate extends InMemoryObjectStore {
  gated: string | undefined;
  private readonly held: (() => void)[] = [];

  override async get(key: string): Promise<Uint8Array | undefined> {
    if (key === this.gated) await new Promise<void>((release) => this.held.push(release));
    return super.get(key);
  }

  async waiting(): Promise<void> {
    while (this.held.length === 0) await new Promise<void>((r) => setImmediate(r));
  }

  release(): void {
    this.gated = undefined;
    for (const r of this.held.splice(0)) r();
  }
}

describe('follower refresh events', () => {
  it("emits 'refresh' as soon as a poll applies a new WAL object, not when the poll ends", async () => {
    const store = new GetGate();
    const writer = new S3Level<string, string>({ store, flushIntervalMs: 0 });
    await writer.open();
    const follower = new S3Level<string, string>({ store, readOnly: true, pollIntervalMs: 3_600_000 });
    await follower.open();
    let events = 0;
    follower.on('refresh' as never, () => events++);
    for (const k of ['k1', 'k2', 'k3']) await writer.put(k, 'v'); // one WAL object each
    const slots = store.keys().filter((k) => k.startsWith('wal/'));
    // The poll finds the first two objects, then waits on its GET of the third.
    store.gated = slots.at(-1);
    expect(store.gated).toBe(walKey('', Number(slots.at(-1)?.slice(4))));
    const refreshing = follower.refresh();
    await store.waiting();
    expect(events).toBeGreaterThanOrEqual(1);
    expect(await follower.get('k2')).toBe('v');
    expect(await follower.get('k3')).toBeUndefined();
    store.release();
    await refreshing;
    expect(await follower.get('k3')).toBe('v');
    await follower.close();
    await writer.close();
  });

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
    await writer.flushMemtable(); // a new manifest (and a WAL cut): each says so when it arrives
    await follower.refresh();
    expect(events).toBeGreaterThanOrEqual(2);
    const seen = events;
    await follower.refresh();
    expect(events).toBe(seen);
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

  it('polls with one LIST and one GET when up to date, and catches up in one refresh when its next WAL slots are gone', async () => {
    let serverNow = 1_700_000_000_000;
    const server: Clock = { now: () => serverNow++, sleep: systemClock.sleep }; // every object a millisecond younger
    const store = new InMemoryObjectStore(server);
    const writer = new S3Level<string, string>({ store, flushIntervalMs: 0, gc: false, gcGraceMs: 0 });
    await writer.open();
    await writer.put('a', '1');
    const follower = new S3Level<string, string>({ store, readOnly: true, pollIntervalMs: 3_600_000 });
    await follower.open();
    const before = { ...follower.requests };
    await follower.refresh();
    expect(follower.requests.list - before.list).toBe(1); // manifests
    expect(follower.requests.get - before.get).toBe(1); // the next WAL slot: not there yet
    // The writer moves on, flushes, and its old WAL objects are deleted: the follower's next slot is gone.
    for (let i = 0; i < 30; i++) await writer.put(`k${i}`, `v${i}`);
    await writer.flushMemtable();
    await writer.put('after', 'flush');
    await writer.collectGarbage();
    const replayFrom = writer.manifest?.walReplayFrom as number;
    expect(store.keys().filter((k) => k.startsWith('wal/') && Number(k.slice(4)) < replayFrom)).toEqual([]);
    await follower.refresh();
    expect(await follower.get('k29')).toBe('v29');
    expect(await follower.get('after')).toBe('flush');
    await follower.close();
    await writer.close();
  });
});
