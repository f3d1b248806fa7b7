import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from './errors.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './object-store/s3.js';
import { ObjectStoreError, PreconditionFailedError } from './object-store/types.js';
import { S3Level } from './s3-level.js';
import type { S3LevelOptions } from './s3-level.js';
import type { RgwEnv } from './testing/rgw.js';
import { ensureRgw, rgwOptions, rgwStore, uniquePrefix } from './testing/rgw.js';

let env: RgwEnv;
const stores: S3ObjectStore[] = [];

/** A client of its own per instance, like separate processes. */
function open(prefix: string, opts: Partial<S3LevelOptions<string, string>> = {}): Promise<S3Level<string, string>> {
  const store = rgwStore(env);
  stores.push(store);
  const db = new S3Level<string, string>({ store, prefix, flushIntervalMs: 5, ...opts });
  return db.open().then(() => db);
}

beforeAll(async () => {
  env = await ensureRgw();
}, 900_000);

afterAll(() => {
  for (const s of stores) s.destroy();
});

describe('S3Level on a real S3 server (Ceph RGW)', () => {
  for (const direct of [true, false]) {
    const path = direct ? 'direct PUT and GET' : 'SDK PUT and GET';
    const client = (over: Partial<S3ObjectStoreOptions> = {}) => {
      const store = new S3ObjectStore({ ...rgwOptions(env), directPut: direct, directGet: direct, ...over });
      stores.push(store);
      return store;
    };

    it(`${path}: conditional writes are enforced by the server (If-None-Match, If-Match)`, async () => {
      const store = client();
      const key = `${uniquePrefix('cond')}x`;
      const first = await store.put(key, Buffer.from('1'), { ifNoneMatch: '*' });
      await expect(store.put(key, Buffer.from('2'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(Buffer.from((await store.get(key)) as Uint8Array).toString()).toBe('1');
      await expect(store.put(key, Buffer.from('3'), { ifMatch: 'not-the-etag' })).rejects.toMatchObject({ status: 412 });
      const second = await store.put(key, Buffer.from('4'), { ifMatch: `"${first.etag}"` });
      expect(second.etag).not.toBe(first.etag);
      expect(Buffer.from((await store.get(key)) as Uint8Array).toString()).toBe('4');
      expect(Buffer.from((await store.getRange(key, 0, 1)) as Uint8Array).toString()).toBe('4');
      expect(await store.get(`${key}-missing`)).toBeUndefined();
    });

    it(`${path}: keys that need escaping round-trip`, async () => {
      const store = client();
      const prefix = uniquePrefix('escape');
      const keys = ['a b', 'plus+sign', 'ünï/cødé', 'q?x=1&y', 'pct%20', "tilde~star*(paren)!'"].map((k) => prefix + k);
      for (const k of keys) await store.put(k, Buffer.from(k), { ifNoneMatch: '*' });
      for (const k of keys) expect(Buffer.from((await store.get(k)) as Uint8Array).toString()).toBe(k);
      for (const k of keys) expect(Buffer.from((await store.getRange(k, 3, 9)) as Uint8Array).toString()).toBe(Buffer.from(k).subarray(3, 9).toString());
      expect((await store.list(prefix)).map((o) => o.key).sort()).toEqual([...keys].sort());
    });

    it(`${path}: a refused PUT is a typed, non-retryable error with the HTTP status`, async () => {
      const badKey = client({ credentials: { accessKeyId: env.accessKeyId, secretAccessKey: 'wrong' } });
      const err = await badKey.put(`${uniquePrefix('denied')}x`, Buffer.from('1')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectStoreError);
      expect(err).toMatchObject({ code: 'STRAND_S3_REQUEST_FAILED', status: 403, retryable: false, outcomeUnknown: false });
      const noBucket = client({ bucket: 'no-such-bucket-strand' });
      await expect(noBucket.put('x', Buffer.from('1'))).rejects.toMatchObject({ status: 404, retryable: false });
      // GETs classify the same way: refused is a typed error, a missing key is undefined.
      await expect(badKey.get(`${uniquePrefix('denied')}x`)).rejects.toMatchObject({ code: 'STRAND_S3_REQUEST_FAILED', status: 403, retryable: false });
      await expect(badKey.getRange(`${uniquePrefix('denied')}x`, 0, 1)).rejects.toMatchObject({ status: 403, retryable: false });
      // No server at all: retryable, and the outcome of a failed write counts as unknown.
      const nowhere = client({ endpoint: 'http://127.0.0.1:1', requestTimeoutMs: 2_000 });
      const down = await nowhere.put('x', Buffer.from('1')).catch((e: unknown) => e);
      expect(down).toMatchObject({ code: 'STRAND_S3_REQUEST_FAILED', status: undefined, retryable: true });
      await expect(nowhere.get('x')).rejects.toMatchObject({ code: 'STRAND_S3_REQUEST_FAILED', status: undefined, retryable: true, outcomeUnknown: false });
    });
  }

  it('two writers: the second fences the first, which keeps failing; nothing acknowledged is lost', async () => {
    const prefix = uniquePrefix('fencing');
    const a = await open(prefix);
    const acked: string[] = [];
    const failures: unknown[] = [];
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const k = `a/${n++}`;
        try {
          await a.put(k, 'v');
          acked.push(k);
        } catch (err) {
          failures.push(err);
          return;
        }
      }
    };
    const writers = Array.from({ length: 16 }, writer);
    while (acked.length < 200) await new Promise((r) => setTimeout(r, 5));
    // B opens while A has 16 writes in flight.
    const b = await open(prefix);
    stop = true;
    await Promise.all(writers);
    expect(b.epoch).toBe(a.epoch + 1);
    await expect(a.put('after', 'x')).rejects.toBeInstanceOf(FencedError);
    await expect(a.put('after2', 'x')).rejects.toMatchObject({ code: 'STRAND_FENCED', kind: 'closed' });
    for (const err of failures) expect((err as FencedError).code).toBe('STRAND_FENCED');
    const seen = new Set(await b.keys({ gte: 'a/', lt: 'a0' }).all());
    expect(acked.filter((k) => !seen.has(k))).toEqual([]);
    expect(await b.get('after')).toBeUndefined();
    await b.put('b', '1');
    await a.close();
    await b.close();
  });

  it('a follower in another "process" sees writes within its poll interval', async () => {
    const prefix = uniquePrefix('follower');
    const w = await open(prefix, { memtableBytes: 8 * 1024, l0CompactionTrigger: 2 });
    const f = await open(prefix, { readOnly: true, pollIntervalMs: 100 });
    const staleness: number[] = [];
    for (let i = 0; i < 10; i++) {
      await w.put(`k${i}`, 'x'.repeat(2000));
      const t0 = Date.now();
      // Waits for the follower's own poll; the deadline makes a stuck follower fail the test.
      while ((await f.get(`k${i}`)) === undefined) {
        if (Date.now() - t0 > 3000) throw new Error(`follower did not see k${i} within 3 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      staleness.push(Date.now() - t0);
    }
    expect(w.engineStats?.memtableFlushes).toBeGreaterThan(0);
    expect(Math.max(...staleness)).toBeLessThan(1000);
    expect((await f.keys().all()).length).toBe(10);
    await f.close();
    await w.close();
  });

  it('clear() + compaction + GC deletes the data from the bucket', async () => {
    const prefix = uniquePrefix('gc');
    const db = await open(prefix, { gcGraceMs: 0, memtableBytes: 16 * 1024, l0CompactionTrigger: 100 });
    const batch = Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `tenant-x/${i}`, value: `PII-${i}` }));
    await db.batch(batch);
    await db.put('other', 'keep');
    await db.flushMemtable();
    await db.clear({ gte: 'tenant-x/', lt: 'tenant-x0' });
    await db.flushMemtable();
    await db.compact();
    await db.collectGarbage();
    const store = rgwStore(env);
    stores.push(store);
    const objects = await store.list(prefix);
    for (const o of objects) {
      if (o.key.startsWith(`${prefix}wal/`)) continue;
      const body = Buffer.from((await store.get(o.key)) as Uint8Array);
      expect(body.includes(Buffer.from('PII-')), o.key).toBe(false);
    }
    expect(await db.get('other')).toBe('keep');
    expect(await db.keys({ gte: 'tenant-x/', lt: 'tenant-x0' }).all()).toEqual([]);
    await db.close();
  });

  it('group commit: 64 durable writes in flight, measured', async () => {
    const prefix = uniquePrefix('throughput');
    const db = await open(prefix, { flushIntervalMs: 0 });
    const total = 4000;
    const value = 'e'.repeat(200);
    let next = 0;
    const start = { ...db.requests };
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < total) {
          const i = next++;
          await db.put(`stream/${String(i).padStart(8, '0')}`, value, { sync: true } as never);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const puts = db.requests.put - start.put;
    const perThousand = (puts * 1000) / total;
    console.log(
      `store-s3 on RGW: ${Math.round(total / seconds)} durable writes/s with 64 in flight, ` +
        `${perThousand.toFixed(1)} PUTs per 1,000 writes (GET ${db.requests.get - start.get}, LIST ${db.requests.list - start.list})`,
    );
    // Each WAL PUT carries many writes.
    expect(perThousand).toBeLessThan(200);
    await db.close();
  });
});
