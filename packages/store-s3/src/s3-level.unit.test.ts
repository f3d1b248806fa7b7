import { isStrandError } from '@strand/core';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { seededRandom } from './clock.js';
import { FencedError, ReadOnlyError } from './errors.js';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';
import type { S3LevelOptions } from './s3-level.js';
import { SimClock } from './testing/sim-clock.js';

type Opts = Omit<S3LevelOptions<string, string>, 'store'>;

async function openDb(store: InMemoryObjectStore, opts: Opts = {}): Promise<S3Level<string, string>> {
  const db = new S3Level<string, string>({ store, flushIntervalMs: 0, ...opts });
  await db.open();
  return db;
}

describe('S3Level write path', () => {
  it('acknowledges a durable write only once its WAL object is stored, an async one at once', async () => {
    const clock = new SimClock();
    await clock.run(
      (async () => {
        const store = new InMemoryObjectStore(clock);
        const db = await openDb(store, { clock, flushIntervalMs: 50 });
        const walObjects = () => store.keys().filter((k) => k.startsWith('wal/')).length;
        const before = walObjects();
        const t0 = clock.now();
        await db.put('a', '1', { sync: true } as never);
        expect(walObjects()).toBe(before + 1);
        expect(clock.now() - t0).toBe(50); // waited for the group-commit window
        await db.put('b', '2', { sync: false } as never);
        expect(clock.now() - t0).toBe(50); // acknowledged without waiting
        expect(walObjects()).toBe(before + 1);
        expect(await db.get('b')).toBe('2'); // visible in this process at once
        await clock.sleep(60);
        expect(walObjects()).toBe(before + 2); // and durable one window later
        await db.close();
      })(),
    );
  });

  it('groups concurrent writes into one WAL object and makes no request while idle', async () => {
    const clock = new SimClock();
    await clock.run(
      (async () => {
        const store = new InMemoryObjectStore(clock);
        const db = await openDb(store, { clock, flushIntervalMs: 50 });
        const puts0 = db.requests.put;
        await Promise.all(Array.from({ length: 1000 }, (_, i) => db.put(`k${i}`, 'v')));
        expect(db.requests.put - puts0).toBe(1);
        const snapshot = { ...db.requests };
        await clock.sleep(10 * 60 * 1000);
        expect(db.requests).toEqual(snapshot);
        await db.close();
      })(),
    );
  });

  it('keeps a batch atomic in one WAL object', async () => {
    const store = new InMemoryObjectStore();
    const db = await openDb(store);
    await db.batch([
      { type: 'put', key: 'x', value: '1' },
      { type: 'put', key: 'y', value: '2' },
      { type: 'del', key: 'x' },
    ]);
    const db2 = await openDb(store); // fences db, replays the WAL
    expect(await db2.getMany(['x', 'y'])).toEqual([undefined, '2']);
    await db2.close();
  });
});

/** A bucket whose WAL PUTs wait until the test lets them through, one by one and in any order. */
class GatedWalStore extends InMemoryObjectStore {
  gating = false;
  readonly held: { key: string; release: (fail?: Error) => void; settled: Promise<void> }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  override async put(key: string, body: Uint8Array, options?: Parameters<InMemoryObjectStore['put']>[2]) {
    if (!this.gating || !key.startsWith('wal/')) return super.put(key, body, options);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let release: (fail?: Error) => void = () => undefined;
    const failure = new Promise<Error | undefined>((resolve) => {
      release = resolve;
    });
    const result = failure.then((err) => {
      this.inFlight--;
      if (err) throw err;
      return super.put(key, body, options);
    });
    this.held.push({ key, release, settled: result.then(afterCallbacks, afterCallbacks) });
    return result;
  }

  /** Resolves once `n` WAL PUTs were sent. */
  async waitingFor(n: number): Promise<void> {
    while (this.held.length < n) await afterCallbacks();
  }
}

/** One macrotask turn: every promise callback queued so far (the engine's included) has run. */
const afterCallbacks = () => new Promise<void>((r) => setImmediate(r));

describe('several WAL PUTs in flight', () => {
  it('keeps walPutsInFlight PUTs in flight and acknowledges strictly in WAL order', async () => {
    const store = new GatedWalStore();
    const db = await openDb(store, { walPutsInFlight: 2 });
    store.gating = true;
    const acked: string[] = [];
    const a = db.put('a', '1').then(() => acked.push('a'));
    await store.waitingFor(1);
    const b = db.put('b', '2').then(() => acked.push('b'));
    await store.waitingFor(2);
    const c = db.put('c', '3').then(() => acked.push('c'));
    const [first, second] = store.held;
    second?.release(); // the later slot lands first...
    await second?.settled;
    expect(acked).toEqual([]); // ...but b is not acknowledged before a
    // c waits: the window counts unacknowledged slots, which bounds how far past the first
    // missing slot a writer can have written (a new writer's fence skips that far).
    expect(store.held.length).toBe(2);
    first?.release();
    await store.waitingFor(3);
    expect(acked).toEqual(['a', 'b']);
    store.held[2]?.release();
    await Promise.all([a, b, c]);
    expect(acked).toEqual(['a', 'b', 'c']);
    await db.close();
    store.gating = false;
    const reopened = await openDb(store);
    expect(await reopened.getMany(['a', 'b', 'c'])).toEqual(['1', '2', '3']);
    await reopened.close();
  });

  it('a failed WAL PUT fails the writes after it too, even those already stored', async () => {
    const store = new GatedWalStore();
    const db = await openDb(store, { walPutsInFlight: 2, retry: { maxAttempts: 1 } });
    store.gating = true;
    const a = db.put('a', '1');
    await store.waitingFor(1);
    const b = db.put('b', '2');
    await store.waitingFor(2);
    store.held[1]?.release();
    await store.held[1]?.settled;
    store.held[0]?.release(new Error('access denied'));
    await expect(a).rejects.toThrow();
    await expect(b).rejects.toThrow();
    await expect(db.put('c', '3')).rejects.toThrow(); // the writer stays stopped
    await db.close().catch(() => undefined);
  });

  it('rejects a walPutsInFlight outside 1..16 with a typed error naming the range', () => {
    for (const bad of [0, 17, 1.5, Number.NaN]) {
      expect(() => new S3Level({ store: new InMemoryObjectStore(), walPutsInFlight: bad })).toThrow(
        expect.objectContaining({ code: 'STRAND_INVALID_ARGUMENT', message: expect.stringContaining('from 1 to 16') }),
      );
    }
    expect(() => new S3Level({ store: new InMemoryObjectStore(), durability: 'maybe' as never })).toThrow(/'sync' or 'buffered'/);
  });
});

describe('fencing', () => {
  it('a second writer fences the first, which then fails every write with STRAND_FENCED', async () => {
    const store = new InMemoryObjectStore();
    const a = await openDb(store);
    await a.put('from-a', '1');
    const b = await openDb(store);
    expect(b.epoch).toBe(a.epoch + 1);
    expect(await b.get('from-a')).toBe('1');
    for (let i = 0; i < 3; i++) {
      const err = await a.put(`late-${i}`, 'x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FencedError);
      expect((err as FencedError).code).toBe('STRAND_FENCED');
      expect((err as FencedError).kind).toBe('closed');
      expect(isStrandError(err, 'STRAND_FENCED')).toBe(true); // one error model across packages
    }
    await expect(a.batch([{ type: 'put', key: 'q', value: '1' }])).rejects.toMatchObject({ code: 'STRAND_FENCED' });
    expect(await b.get('late-0')).toBeUndefined();
    await b.put('from-b', '2');
    await a.close();
    const c = await openDb(store);
    expect(await c.getMany(['from-a', 'from-b', 'late-0'])).toEqual(['1', '2', undefined]);
    await b.close();
    await c.close();
  });

  it('a fenced writer cannot commit a manifest either', async () => {
    const store = new InMemoryObjectStore();
    const a = await openDb(store, { memtableBytes: 1 << 30 });
    await a.put('k', 'v');
    const b = await openDb(store);
    await expect(a.flushMemtable()).rejects.toMatchObject({ code: 'STRAND_FENCED' });
    expect(b.manifest?.epoch).toBe(2);
    await b.close();
    await a.close();
  });
});

describe('deletes really leave the bucket', () => {
  it('clear() + compaction + GC removes the cleared bytes from every object', async () => {
    const clock = new SimClock();
    await clock.run(
      (async () => {
        const store = new InMemoryObjectStore(clock);
        const db = await openDb(store, { clock, gcGraceMs: 1000, memtableBytes: 4096, l0CompactionTrigger: 100 });
        for (let i = 0; i < 200; i++) await db.put(`tenant-a/${String(i).padStart(4, '0')}`, `SECRET-${i}`);
        for (let i = 0; i < 50; i++) await db.put(`tenant-b/${i}`, `keep-${i}`);
        await db.flushMemtable();
        await db.clear({ gte: 'tenant-a/', lt: 'tenant-a0' });
        await db.del('tenant-b/7');
        await db.flushMemtable();
        await db.compact();
        await clock.sleep(2000);
        await db.collectGarbage();
        const secret = Buffer.from('SECRET-');
        for (const key of store.keys()) {
          const body = Buffer.from((await store.get(key)) as Uint8Array);
          // WAL objects at or after the replay point may still hold it until the next flush.
          if (!key.startsWith('wal/')) expect(body.includes(secret), key).toBe(false);
        }
        expect(await db.keys({ gte: 'tenant-a/', lt: 'tenant-a0' }).all()).toEqual([]);
        expect((await db.keys({ gte: 'tenant-b/', lt: 'tenant-b0' }).all()).length).toBe(49);
        await db.close();
        const reopened = await openDb(store, { clock });
        expect((await reopened.keys().all()).length).toBe(49);
        await reopened.close();
      })(),
    );
  });
});

describe('follower (read-only instance)', () => {
  it('follows the writer through WAL objects, flushes and compactions', async () => {
    const store = new InMemoryObjectStore();
    const writer = await openDb(store, { memtableBytes: 2048, l0CompactionTrigger: 2, gcGraceMs: 60_000 });
    const follower = new S3Level<string, string>({ store, readOnly: true, pollIntervalMs: 60_000 });
    await follower.open();
    await writer.put('a', '1');
    expect(await follower.get('a')).toBeUndefined();
    await follower.refresh();
    expect(await follower.get('a')).toBe('1');
    for (let i = 0; i < 300; i++) await writer.put(`k${String(i).padStart(3, '0')}`, 'x'.repeat(20));
    await writer.del('k005');
    await writer.flushMemtable();
    await writer.compact();
    expect(writer.engineStats?.compactions).toBeGreaterThan(0);
    await follower.refresh();
    expect(await follower.get('k005')).toBeUndefined();
    expect(await follower.get('k299')).toBe('x'.repeat(20));
    expect((await follower.keys().all()).length).toBe(300);
    expect(follower.epoch).toBe(0);
    const refused = await follower.put('no', 'no').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isStrandError(refused, 'LEVEL_READONLY')).toBe(true);
    expect(refused).toBeInstanceOf(ReadOnlyError);
    expect(refused).toMatchObject({ kind: 'invalid', details: { operation: 'write' } });
    await expect(follower.compact()).rejects.toMatchObject({ code: 'LEVEL_READONLY', details: { operation: 'compact' } });
    await follower.close();
    await writer.close();
  });
});

describe('reads match memory-level under random operations', () => {
  it('get, getMany, iterators (forward, reverse, ranges, seek) over memtables, L0 and L1', async () => {
    const rnd = seededRandom(99);
    const store = new InMemoryObjectStore();
    const db = await openDb(store, { memtableBytes: 1500, l0CompactionTrigger: 3, targetSstBytes: 3000, blockBytes: 256 });
    const model = new MemoryLevel<string, string>();
    const key = () => `k${String(Math.floor(rnd() * 120)).padStart(3, '0')}`;
    const bound = () => (rnd() < 0.5 ? key() : `${key()}x`);
    for (let step = 0; step < 1500; step++) {
      const r = rnd();
      if (r < 0.6) {
        const k = key();
        const v = `v${step}`;
        await db.put(k, v);
        await model.put(k, v);
      } else if (r < 0.75) {
        const k = key();
        await db.del(k);
        await model.del(k);
      } else if (r < 0.78) {
        const [a, b] = [bound(), bound()].sort();
        const o = { gte: a, lt: b };
        await db.clear(o);
        await model.clear(o);
      } else if (r < 0.8) {
        const o = { limit: 1 + Math.floor(rnd() * 5), reverse: rnd() < 0.5 };
        await db.clear(o);
        await model.clear(o);
      } else if (r < 0.82) {
        await db.flushMemtable();
      } else if (r < 0.83) {
        await db.compact();
      } else {
        const reverse = rnd() < 0.5;
        const [a, b] = [bound(), bound()].sort();
        const o = { gt: a, lte: b, reverse, limit: rnd() < 0.3 ? 7 : -1 };
        expect(await db.iterator(o).all(), JSON.stringify(o)).toEqual(await model.iterator(o).all());
        const ks = [key(), key(), key()];
        expect(await db.getMany(ks)).toEqual(await model.getMany(ks));
        const it1 = db.iterator({ reverse });
        const it2 = model.iterator({ reverse });
        const target = bound();
        it1.seek(target);
        it2.seek(target);
        expect(await it1.nextv(5)).toEqual(await it2.nextv(5));
        await it1.close();
        await it2.close();
      }
    }
    expect(await db.iterator().all()).toEqual(await model.iterator().all());
    expect(db.engineStats?.compactions).toBeGreaterThan(0);
    await db.close();
    const reopened = await openDb(store);
    expect(await reopened.iterator().all()).toEqual(await model.iterator().all());
    await reopened.close();
  });

  it('an iterator keeps reading its snapshot while writes, flushes and compactions go on', async () => {
    const store = new InMemoryObjectStore();
    const db = await openDb(store, { memtableBytes: 1024, l0CompactionTrigger: 2, gcGraceMs: 0 });
    for (let i = 0; i < 200; i++) await db.put(`k${String(i).padStart(3, '0')}`, 'old');
    const it = db.iterator();
    const first = await it.next();
    await db.clear();
    for (let i = 0; i < 200; i++) await db.put(`k${String(i).padStart(3, '0')}`, 'new');
    await db.flushMemtable();
    await db.compact();
    const rest = await it.all();
    expect([first, ...rest].length).toBe(200);
    expect(rest.every(([, v]) => v === 'old')).toBe(true);
    expect(await db.get('k000')).toBe('new');
    await db.close();
  });
});
