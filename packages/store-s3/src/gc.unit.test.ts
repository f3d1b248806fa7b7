import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';

describe('garbage collection', () => {
  it("ages objects by the store's clock, not this machine's (a local clock a day ahead deletes nothing early)", async () => {
    let serverNow = 1_700_000_000_000;
    const server: Clock = { now: () => serverNow, sleep: systemClock.sleep };
    const local: Clock = { now: () => serverNow + 86_400_000, sleep: systemClock.sleep };
    const store = new InMemoryObjectStore(server);
    const db = new S3Level<string, string>({ store, clock: local, flushIntervalMs: 0, gc: false, gcGraceMs: 60_000 });
    await db.open();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) await db.put(`k${i}`, `v${round}`);
      await db.flushMemtable();
    }
    await db.compact(); // the three L0 tables become garbage
    const sstCount = () => store.keys().filter((k) => k.startsWith('sst/')).length;
    expect(sstCount()).toBe(4);
    expect((await db.collectGarbage()).tables).toEqual([]); // zero seconds old on the store's clock
    serverNow += 59_000;
    expect((await db.collectGarbage()).tables).toEqual([]);
    serverNow += 2_000; // now past the grace period on the store's clock
    expect((await db.collectGarbage()).tables.length).toBe(3);
    expect(sstCount()).toBe(1);
    expect(await db.get('k7')).toBe('v2');
    await db.close();
  });
});
