import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../clock.js';
import { S3Level } from '../s3-level.js';
import { CountingObjectStore } from './counting.js';
import { DiskCacheObjectStore } from './disk-cache.js';
import { InMemoryObjectStore } from './memory.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'strand-disk-cache-'));
  dirs.push(d);
  return d;
}

describe('disk cache decorator', () => {
  it('fetches a cached object once, serves ranges from disk, passes other keys through, drops deleted ones', async () => {
    const bucket = new InMemoryObjectStore();
    const counting = new CountingObjectStore(bucket);
    const dir = await scratch();
    const cache = new DiskCacheObjectStore(counting, dir, (k) => (k.startsWith('sst/') ? k.slice(4) : undefined), seededRandom(1));
    const body = Buffer.from('0123456789abcdef');
    await bucket.put('sst/t1', body);
    await bucket.put('wal/1', body);
    const ranges = await Promise.all([cache.getRange('sst/t1', 2, 5), cache.getRange('sst/t1', 10, 16)]);
    expect(ranges.map((r) => Buffer.from(r as Uint8Array).toString())).toEqual(['234', 'abcdef']);
    expect(counting.counts.get).toBe(1); // one whole-object GET for both
    expect(Buffer.from((await cache.get('sst/t1')) as Uint8Array).equals(body)).toBe(true);
    expect(counting.counts.get).toBe(1);
    await cache.getRange('wal/1', 0, 4);
    await cache.getRange('wal/1', 0, 4);
    expect(counting.counts.get).toBe(3); // not cached
    await cache.put('sst/t2', body); // written through, and kept
    expect(Buffer.from((await cache.getRange('sst/t2', 0, 3)) as Uint8Array).toString()).toBe('012');
    expect(counting.counts.get).toBe(3);
    await cache.delete('sst/t1');
    expect((await readdir(dir)).sort()).toEqual(['t2']);
    expect(await cache.getRange('sst/t1', 0, 3)).toBeUndefined();
  });

  it('lets a reopened S3Level read its tables from the cache directory', async () => {
    const bucket = new InMemoryObjectStore();
    const dir = await scratch();
    const db = new S3Level<string, string>({ store: bucket, diskCacheDir: dir, flushIntervalMs: 0 });
    await db.open();
    for (let i = 0; i < 50; i++) await db.put(`k${i}`, `v${i}`);
    await db.flushMemtable();
    await db.close();
    const again = new S3Level<string, string>({ store: bucket, diskCacheDir: dir, flushIntervalMs: 0 });
    await again.open();
    const gets = again.requests.get;
    expect(await again.get('k42')).toBe('v42');
    expect(again.requests.get).toBe(gets); // the table came from disk
    await again.close();
  });
});
