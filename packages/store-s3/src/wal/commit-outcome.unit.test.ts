import { EventLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from '../object-store/memory.js';
import type { ListOptions, ObjectInfo, PutOptions, PutResult } from '../object-store/types.js';
import { ObjectStoreError } from '../object-store/types.js';
import { S3Level } from '../s3-level.js';
import { s3LogDefaults } from '../url.js';
import { walKey } from './format.js';

/**
 * A bucket with scripted faults on WAL PUTs: `store-then-drop` stores the object, then the
 * connection drops (outcome unknown) and the store stays unreachable until `heal()`; `lost-ack`
 * stores it and drops the connection, the store staying reachable; `dropBefore` drops that many
 * WAL PUT attempts before anything is stored (outcome unknown, store reachable).
 */
class ScriptedStore extends InMemoryObjectStore {
  next: 'ok' | 'store-then-drop' | 'lost-ack' = 'ok';
  dropBefore = 0;
  down = false;

  heal(): void {
    this.down = false;
  }

  private refuse(): void {
    if (this.down) throw new ObjectStoreError('connect ECONNREFUSED (scripted outage)', { retryable: true });
  }

  override async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    this.refuse();
    if (key.startsWith('wal/') && (this.next !== 'ok' || this.dropBefore > 0)) {
      const fault = this.next;
      this.next = 'ok';
      if (fault === 'ok') this.dropBefore--;
      else await super.put(key, body, options);
      if (fault === 'store-then-drop') this.down = true;
      throw new ObjectStoreError('socket hang up after the body was sent (scripted)', { retryable: true, outcomeUnknown: true });
    }
    return super.put(key, body, options);
  }

  override async get(key: string): Promise<Uint8Array | undefined> {
    this.refuse();
    return super.get(key);
  }

  override async list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    this.refuse();
    return super.list(prefix, options);
  }
}

const retry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, windowMs: 0 };

async function openDb(store: InMemoryObjectStore): Promise<S3Level<string, string>> {
  const db = new S3Level<string, string>({ store, flushIntervalMs: 0, retry, onBackgroundError: () => undefined });
  await db.open();
  return db;
}

describe('a WAL PUT whose outcome is unknown', () => {
  it('fails with STRAND_COMMIT_UNKNOWN when the object was stored and the store cannot be asked; it is there after recovery', async () => {
    const store = new ScriptedStore();
    const db = await openDb(store);
    await db.put('before', '0');
    store.next = 'store-then-drop';
    const err = await db.put('k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STRAND_COMMIT_UNKNOWN', kind: 'unavailable' });
    expect((err as Error).message).toMatch(/may have been committed/);
    // The writer stays stopped; later writes were never sent, which it says.
    await expect(db.put('after', 'x')).rejects.toMatchObject({ code: 'STRAND_S3_UNAVAILABLE' });
    store.heal();
    await db.close();
    const reopened = await openDb(store);
    expect(await reopened.getMany(['before', 'k', 'after'])).toEqual(['0', 'v', undefined]);
    await reopened.close();
  });

  it('settles the slot when the store answers: not stored -> voided, STRAND_S3_UNAVAILABLE, and it never appears', async () => {
    const store = new ScriptedStore();
    const db = await openDb(store);
    const slots = () => store.keys().filter((k) => k.startsWith('wal/'));
    const before = slots();
    store.dropBefore = retry.maxAttempts; // every attempt of the PUT
    const err = await db.put('k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STRAND_S3_UNAVAILABLE', kind: 'unavailable' });
    expect((err as Error).message).toMatch(/nothing of this write was committed/);
    // The slot holds the void object: the dropped PUT can never land there later.
    const voided = slots().filter((k) => !before.includes(k));
    expect(voided.length).toBe(1);
    await expect(store.put(voided[0] as string, Buffer.from('late'), { ifNoneMatch: '*' })).rejects.toMatchObject({ status: 412 });
    await db.close();
    const reopened = await openDb(store);
    expect(await reopened.get('k')).toBeUndefined();
    await reopened.put('k2', 'v2'); // the next writer claims past the void slot
    await reopened.close();
    const again = await openDb(store);
    expect(await again.getMany(['k', 'k2'])).toEqual([undefined, 'v2']);
    await again.close();
  });

  it('acknowledges the write when the read-back finds it stored (a lost acknowledgement, no retry left)', async () => {
    const store = new ScriptedStore();
    const db = new S3Level<string, string>({ store, flushIntervalMs: 0, retry: { maxAttempts: 1, windowMs: 0 } });
    await db.open();
    store.next = 'lost-ack';
    await db.put('k', 'v');
    await db.put('k2', 'v2');
    await db.close();
    const reopened = await openDb(store);
    expect(await reopened.getMany(['k', 'k2'])).toEqual(['v', 'v2']);
    expect(walKey('', 1)).toBe('wal/00000000000000000001');
    await reopened.close();
  });

  it('reaches the event log as STRAND_COMMIT_UNKNOWN; re-sending with the same ids after recovery is idempotent', async () => {
    const store = new ScriptedStore();
    const level = () => new S3Level({ store, flushIntervalMs: 0, retry, onBackgroundError: () => undefined, keyEncoding: 'view', valueEncoding: 'view' } as never);
    const log = await EventLog.open({ ...s3LogDefaults, store: level(), ownsStore: true });
    await log.append('orders/u/o-1', [{ id: 'e-1', type: 'Placed', data: { n: 1 } }]);
    store.next = 'store-then-drop';
    const events = [{ id: 'e-2', type: 'Shipped', data: { n: 2 } }];
    const err = await log.append('orders/u/o-1', events, { expectedVersion: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STRAND_COMMIT_UNKNOWN', kind: 'unavailable' });
    store.heal();
    await log.close().catch(() => undefined);
    const reopened = await EventLog.open({ ...s3LogDefaults, store: level(), ownsStore: true });
    const again = await reopened.append('orders/u/o-1', events, { expectedVersion: 1 });
    expect(again).toMatchObject({ idempotent: true, version: 2, position: 2 });
    expect(reopened.position).toBe(2);
    await reopened.close();
  });
});
