import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';

describe('bounded replay', () => {
  it('flushes a memtable that spans walReplayMaxObjects WAL objects, so a reopen replays at most that many', async () => {
    const store = new InMemoryObjectStore();
    const db = new S3Level<string, string>({ store, flushIntervalMs: 0, walReplayMaxObjects: 16 });
    await db.open();
    for (let i = 0; i < 200; i++) await db.put(`k${String(i).padStart(3, '0')}`, `v${i}`); // one WAL object each
    expect(db.engineStats?.walObjects).toBeGreaterThanOrEqual(200);
    expect(db.engineStats?.memtableFlushes).toBeGreaterThanOrEqual(11);
    const replayFrom = db.manifest?.walReplayFrom as number;
    const walSlots = store.keys().filter((k) => k.startsWith('wal/')).length;
    // A crash: no close, no final flush. The next writer replays only the slots after the replay point.
    const next = new S3Level<string, string>({ store, flushIntervalMs: 0 });
    await next.open();
    const pending = store.keys().filter((k) => k.startsWith('wal/') && Number(k.slice(4)) >= replayFrom).length;
    expect(walSlots).toBeGreaterThan(200);
    expect(pending).toBeLessThanOrEqual(16 + 2); // the open memtable's slots (+ the new writer's fence)
    expect(next.requests.get).toBeLessThan(40);
    expect(await next.get('k199')).toBe('v199');
    expect((await next.keys().all()).length).toBe(200);
    await next.close();
    await db.close().catch(() => undefined);
  });
});
