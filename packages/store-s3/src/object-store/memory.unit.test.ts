import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './memory.js';
import { PreconditionFailedError } from './types.js';

describe('InMemoryObjectStore', () => {
  it('copies bodies in and out, like a real store: callers never share memory with what is stored', async () => {
    const store = new InMemoryObjectStore();
    // A body that is a view into a larger buffer (as the WAL's and the SST builder's are).
    const backing = Buffer.from('xxhello worldyy');
    const body = backing.subarray(2, 13);
    await store.put('k', body);
    body.fill(0x21); // the caller reuses its buffer
    const got = (await store.get('k')) as Uint8Array;
    expect(Buffer.from(got).toString()).toBe('hello world');
    expect(got.byteOffset).toBe(0);
    expect(got.buffer.byteLength).toBe(11); // its own memory, not the caller's larger buffer
    got.fill(0x3f); // the caller writes into what it got
    expect(Buffer.from((await store.get('k')) as Uint8Array).toString()).toBe('hello world');
    const range = (await store.getRange('k', 6, 11)) as Uint8Array;
    expect(Buffer.from(range).toString()).toBe('world');
    range.fill(0x3f);
    expect(Buffer.from((await store.getRange('k', 0, 11)) as Uint8Array).toString()).toBe('hello world');
    expect(await store.get('missing')).toBeUndefined();
    expect(await store.getRange('missing', 0, 1)).toBeUndefined();
  });

  it('enforces create-only and If-Match PUTs', async () => {
    const store = new InMemoryObjectStore();
    const { etag } = await store.put('k', new Uint8Array([1]), { ifNoneMatch: '*' });
    await expect(store.put('k', new Uint8Array([2]), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.put('k', new Uint8Array([3]), { ifMatch: 'nope' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.put('k', new Uint8Array([4]), { ifMatch: `"${etag}"` });
    expect([...((await store.get('k')) as Uint8Array)]).toEqual([4]);
  });
});
