import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from '../object-store/memory.js';
import type { PutOptions, PutResult } from '../object-store/types.js';
import { S3Level } from '../s3-level.js';
import type { S3LevelOptions } from '../s3-level.js';
import { decodeManifest, encodeManifest, manifestKey } from './format.js';
import { ManifestStore } from './store.js';

/** A bucket whose SST PUTs wait until the test lets them through. */
class SstGate extends InMemoryObjectStore {
  gating = false;
  readonly held: (() => void)[] = [];

  override async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (this.gating && key.startsWith('sst/')) await new Promise<void>((release) => this.held.push(release));
    return super.put(key, body, options);
  }

  async waitingFor(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((r) => setImmediate(r));
  }
}

async function openDb(store: InMemoryObjectStore, opts: Omit<S3LevelOptions<string, string>, 'store'> = {}): Promise<S3Level<string, string>> {
  const db = new S3Level<string, string>({ store, flushIntervalMs: 0, ...opts });
  await db.open();
  return db;
}

describe('manifest store', () => {
  it("fencing reads alongside its PUT, and drops what it read when another opener's manifest takes the slot", async () => {
    const bucket = new InMemoryObjectStore();
    const manifests = new ManifestStore(bucket, '');
    const first = await manifests.fence(); // version 1, epoch 1
    const seen: { version: number; epoch: number }[] = [];
    const { manifest, result } = await manifests.fenceWhile(async (next) => {
      seen.push({ version: next.version, epoch: next.epoch });
      // The first time, another opener stores its manifest before this one's PUT goes out.
      if (seen.length === 1) bucket.putSync(manifestKey('', 2), encodeManifest({ ...first, version: 2, epoch: 2 }));
      await new Promise<void>((r) => setImmediate(r));
      return `read for version ${next.version}`;
    });
    expect(seen).toEqual([
      { version: 2, epoch: 2 },
      { version: 3, epoch: 3 },
    ]);
    expect(manifest).toMatchObject({ version: 3, epoch: 3 });
    expect(result).toBe('read for version 3');
    expect(decodeManifest((await bucket.get(manifestKey('', 2))) as Uint8Array)).toMatchObject({ epoch: 2 }); // the rival's, not overwritten
  });

  it('skips a void (torn) slot but is fenced by a valid manifest of another epoch in its slot', async () => {
    const bucket = new InMemoryObjectStore();
    const manifests = new ManifestStore(bucket, '');
    const mine = await manifests.fence();
    expect(mine).toMatchObject({ version: 1, epoch: 1 });
    // A torn upload of version 2 (this writer's own failed PUT): skipped, version 3 is written.
    await bucket.put(manifestKey('', 2), Buffer.from('{"format":1,"vers'));
    const next = await manifests.commit(mine, { ...mine, walReplayFrom: 5 });
    expect(next).toMatchObject({ version: 3, epoch: 1, walReplayFrom: 5 });
    // Another writer's valid manifest in the next slot: fenced, nothing written over it.
    const theirs = { ...next, version: 4, epoch: 2 };
    await bucket.put(manifestKey('', 4), encodeManifest(theirs));
    await expect(manifests.commit(next, { ...next, walReplayFrom: 6 })).rejects.toMatchObject({
      code: 'STRAND_FENCED',
      kind: 'closed',
      message: expect.stringContaining('manifest 4 exists with epoch 2'),
    });
    expect(decodeManifest((await bucket.get(manifestKey('', 4))) as Uint8Array)).toEqual(theirs);
    expect(await bucket.get(manifestKey('', 5))).toBeUndefined();
  });

  it('fences a stale writer by the manifest compare-and-swap alone: an acknowledged frozen memtable, no WAL PUT left', async () => {
    const bucket = new SstGate();
    const a = await openDb(bucket, { compaction: false });
    await a.put('acked', '1');
    // The WAL cut freezes the memtable; its WAL object is acknowledged; the flush then holds at
    // its SST PUT. From here `a` has nothing left to send to the WAL: only the manifest can fence it.
    bucket.gating = true;
    const flushing = a.flushMemtable().then(
      () => undefined,
      (err: unknown) => err,
    );
    await bucket.waitingFor(1);
    const walKeys = () => bucket.keys().filter((k) => k.startsWith('wal/'));
    const b = await openDb(bucket, { compaction: false });
    const walAfterB = walKeys();
    bucket.gating = false;
    for (const release of bucket.held.splice(0)) release();
    const err = await flushing;
    expect(err).toMatchObject({ code: 'STRAND_FENCED', kind: 'closed', message: expect.stringMatching(/manifest \d+ exists with epoch 2/) });
    expect(walKeys()).toEqual(walAfterB); // the WAL fence never fired: `a` wrote no WAL object after `b` opened
    // The newest manifest is still b's, and b keeps writing; a's acknowledged write survives.
    expect(b.manifest?.epoch).toBe(2);
    await b.put('from-b', '2');
    await b.flushMemtable();
    await expect(a.put('late', 'x')).rejects.toMatchObject({ code: 'STRAND_FENCED' });
    await b.close();
    await a.close();
    const c = await openDb(bucket);
    expect(c.manifest?.epoch).toBe(3);
    expect(await c.getMany(['acked', 'from-b', 'late'])).toEqual(['1', '2', undefined]);
    await c.close();
  });
});
