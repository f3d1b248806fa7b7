import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import type { ListOptions, ObjectInfo } from './object-store/types.js';
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

describe('WAL segments', () => {
  it('a reopen reads the WAL a segment per GET, and the WAL objects themselves where a segment is damaged or missing', async () => {
    const store = new InMemoryObjectStore();
    const opts = { store, flushIntervalMs: 0, walReplayMaxObjects: 1000, walSegmentObjects: 8 };
    const db = new S3Level<string, string>(opts);
    await db.open();
    for (let i = 0; i < 100; i++) await db.put(`k${String(i).padStart(3, '0')}`, `v${i}`); // one WAL object each
    await db.close(); // no memtable flush: all 100 WAL objects are pending
    const segments = store.keys().filter((k) => k.startsWith('walseg/'));
    expect(segments).toHaveLength(12); // 100 objects after the fence: 12 segments of 8, 4 left over
    const reopenGets = async (): Promise<number> => {
      const next = new S3Level<string, string>({ ...opts, walSegmentObjects: 0 });
      await next.open();
      const gets = next.requests.get;
      expect((await next.keys().all()).length).toBe(100);
      expect(await next.get('k099')).toBe('v99');
      await next.close();
      return gets;
    };
    const withSegments = await reopenGets();
    expect(withSegments).toBeLessThanOrEqual(1 + 12 + 4 + 1 + 1); // manifest, segments, the rest, the previous fence slot, slack
    // A damaged segment and a missing one: their slots are read one by one.
    await store.put(segments[3] as string, Buffer.from('not a segment'));
    await store.delete(segments[7] as string);
    const fallback = await reopenGets();
    expect(fallback - withSegments).toBeGreaterThanOrEqual(2 * 8 - 2);
    // Without segments every WAL object is a GET.
    for (const k of store.keys().filter((k) => k.startsWith('walseg/'))) await store.delete(k);
    expect(await reopenGets()).toBeGreaterThanOrEqual(100);
  });

  it('a reopen LISTs wal/ only after the run of segments from the replay point, and reads those slots from the segments', async () => {
    const lists: { prefix: string; startAfter: string | undefined }[] = [];
    const store = new (class extends InMemoryObjectStore {
      override list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
        lists.push({ prefix, startAfter: options?.startAfter });
        return super.list(prefix, options);
      }
    })();
    const opts = { store, flushIntervalMs: 0, walReplayMaxObjects: 1000, walSegmentObjects: 8 };
    const db = new S3Level<string, string>(opts);
    await db.open();
    for (let i = 0; i < 20; i++) await db.put(`a${i}`, 'v');
    await db.flushMemtable(); // the replay point moves into the run of segments
    for (let i = 0; i < 80; i++) await db.put(`b${String(i).padStart(2, '0')}`, 'v');
    const from = db.manifest?.walReplayFrom as number;
    await db.close(); // segments written; the memtable is not flushed
    const segments = store.keys().filter((k) => k.startsWith('walseg/'));
    const lastCovered = Math.max(...segments.map((k) => Number(k.slice(-20))));
    expect(lastCovered).toBeGreaterThan(from + 60);
    lists.length = 0;
    const next = new S3Level<string, string>(opts);
    await next.open();
    const walList = lists.find((l) => l.prefix === 'wal/');
    expect(walList?.startAfter).toBe(`wal/${String(lastCovered).padStart(20, '0')}`);
    expect(next.requests.get).toBeLessThan(20); // a GET per segment, not per slot
    expect((await next.keys({ gte: 'b', lt: 'c' }).all()).length).toBe(80);
    expect(await next.get('a19')).toBe('v');
    await next.close();
  });

  it('GC deletes segments below the replay point, like WAL objects', async () => {
    let serverNow = 1_700_000_000_000;
    const server: Clock = { now: () => serverNow, sleep: systemClock.sleep };
    const store = new InMemoryObjectStore(server);
    const db = new S3Level<string, string>({ store, flushIntervalMs: 0, walSegmentObjects: 4, gc: false, gcGraceMs: 1000 });
    await db.open();
    for (let i = 0; i < 20; i++) await db.put(`k${i}`, `v${i}`);
    await db.flushMemtable();
    const replayFrom = db.manifest?.walReplayFrom as number;
    expect((await db.collectGarbage()).walSegments).toEqual([]); // younger than the grace period
    serverNow += 2000;
    const gc = await db.collectGarbage();
    expect(gc.walSegments.length).toBeGreaterThanOrEqual(4);
    const left = store.keys().filter((k) => k.startsWith('walseg/'));
    for (const k of left) expect(Number(k.slice('walseg/'.length + 21))).toBeGreaterThanOrEqual(replayFrom);
    expect(await db.get('k19')).toBe('v19');
    await db.close();
  });
});
