import { EventLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { InMemoryObjectStore } from './object-store/memory.js';
import { S3Level } from './s3-level.js';
import { s3LogDefaults } from './url.js';
import { decodeWal } from './wal/format.js';

const level = (store: InMemoryObjectStore) => new S3Level({ store, flushIntervalMs: 0, keyEncoding: 'view', valueEncoding: 'view' } as never);

describe("the event log's WAL on S3Level", () => {
  it("carries each event's body once (the stream value is a slice of the global record), and reads back both keys", async () => {
    const bucket = new InMemoryObjectStore();
    const writer = level(bucket);
    const log = await EventLog.open({ ...s3LogDefaults, store: writer, ownsStore: true });
    const note = 'n'.repeat(400);
    const events = 64;
    await Promise.all(Array.from({ length: events }, (_, i) => log.append(`orders/o-${i % 8}`, [{ type: 'Placed', data: { i, note } }])));
    await log.close();
    // Every put value of the WAL, decoded: a body of >= 400 bytes per event, once under the
    // global key and once under the stream key.
    let walBytes = 0;
    let valueBytes = 0;
    for (const key of bucket.keys().filter((k) => k.startsWith('wal/'))) {
      const bytes = (await bucket.get(key)) as Uint8Array;
      walBytes += bytes.byteLength;
      for (const batch of decodeWal(bytes).batches) for (const op of batch) if (op.type === 'put') valueBytes += op.value.byteLength;
    }
    expect(valueBytes).toBeGreaterThan(events * 2 * 400);
    // Stored once: the WAL holds well under the values it carries (twice would be > 1,000 per event;
    // once is ~600: 603 with record format 3's text envelope, 593 with format 2's binary one).
    expect(walBytes / events).toBeLessThan(700);
    expect(walBytes).toBeLessThan(0.6 * valueBytes);
    // A new writer replays it: both keys read back (stream reads and global reads).
    const next = await EventLog.open({ ...s3LogDefaults, store: level(bucket), ownsStore: true });
    expect(next.position).toBe(events);
    const byStream = [];
    for await (const e of next.readStream('orders/o-3')) byStream.push(e);
    expect(byStream).toHaveLength(events / 8);
    expect(byStream.every((e) => (e.data as { note: string }).note === note)).toBe(true);
    let all = 0;
    for await (const e of next.readAll()) {
      expect((e.data as { note: string }).note).toBe(note);
      all++;
    }
    expect(all).toBe(events);
    await next.close();
  });
});
