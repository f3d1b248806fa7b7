import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';

describe('follower refresh events', () => {
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
    await writer.flushMemtable(); // a new manifest (and a WAL cut)
    await follower.refresh();
    expect(events).toBe(2);
    await follower.refresh();
    expect(events).toBe(2);
    await follower.close();
    await writer.close();
  });
});
