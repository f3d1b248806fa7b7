import assert from 'node:assert/strict';
import { collect } from '@strand/core/testing';
import { isStrandError, jsonCodec, openLog, type PayloadCodec } from '@strand/core';
import { ClassicLevel } from 'classic-level';
import { unpack } from 'msgpackr';
import { describe, it } from 'vitest';
import { scratchDirs } from '../support/scratch.js';

// Which record format a new log gets, and what a format-3 log holds on disk
// (docs/design/0010-cpu-per-event.md, "Record format 3").
const freshDir = scratchDirs('format3').fresh;

/** The log's format record and its first global and stream values, read raw. */
async function onDisk(dir: string): Promise<{ format: number; codec: string; global: Buffer; stream: Buffer }> {
  const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    const record = unpack((await raw.get(Uint8Array.of(0x10, ...Buffer.from('format'))))!) as { format: number; codec: string };
    const [global] = await raw.values({ gte: Uint8Array.of(0x20), lt: Uint8Array.of(0x21), limit: 1 }).all();
    const [stream] = await raw.values({ gte: Uint8Array.of(0x30), lt: Uint8Array.of(0x31), limit: 1 }).all();
    return { format: record.format, codec: record.codec, global: Buffer.from(global!), stream: Buffer.from(stream!) };
  } finally {
    await raw.close();
  }
}

describe('record format 3', () => {
  it('is what a new JSON log writes: text values, the stream value the global value body, read back whole', async () => {
    const dir = await freshDir();
    const log = await openLog({ path: dir, clock: () => 1_764_000_000_000 });
    try {
      await log.append('orders/ü-1', [
        { type: 'OrderPlaced', data: { total: 42, note: 'naïve \ud800 café' }, id: 'ïd-1', metadata: { user: 'änn' }, schemaVersion: 2 },
        { type: 'OrderPaid', data: null },
      ]);
      const events = await collect(log.readStream('orders/ü-1'));
      assert.deepEqual(
        events.map((e) => [e.version, e.position, e.type, e.data, e.metadata, e.schemaVersion, e.timestamp]),
        [
          [1, 1, 'OrderPlaced', { total: 42, note: 'naïve \ud800 café' }, { user: 'änn' }, 2, 1_764_000_000_000],
          [2, 2, 'OrderPaid', null, undefined, undefined, 1_764_000_000_000],
        ],
      );
      assert.equal(events[0]!.id, 'ïd-1');
      assert.deepEqual((await collect(log.readAll())).map((e) => e.id), events.map((e) => e.id));
      assert.deepEqual((await log.verify()).problems, []);
    } finally {
      await log.close();
    }
    const { format, codec, global, stream } = await onDisk(dir);
    assert.deepEqual([format, codec], [3, 'json']);
    const text = global.toString('utf8');
    assert.deepEqual(Buffer.from(text, 'utf8'), global, 'the value is well-formed UTF-8');
    assert.ok(text.startsWith('Ga:orders/ü-13'), text);
    assert.ok(text.endsWith('{"total":42,"note":"naïve \\ud800 café"}'), text);
    assert.equal(global.subarray(global.length - stream.length).toString('hex'), stream.toString('hex'));
  });

  it('is not what a log with a binary codec writes: format 2 there', async () => {
    const dir = await freshDir();
    const log = await openLog({ path: dir, codec: 'msgpack' });
    try {
      await log.append('s-1', [{ type: 'T', data: { at: new Date(0) } }]);
      assert.deepEqual((await collect(log.readAll())).map((e) => e.data), [{ at: new Date(0) }]);
    } finally {
      await log.close();
    }
    const { format, codec, global } = await onDisk(dir);
    assert.deepEqual([format, codec, global[0]], [2, 'msgpack', 0x02]);
  });

  it('keeps a format-3 log on its format and refuses a custom codec that calls itself json', async () => {
    const dir = await freshDir();
    const log = await openLog({ path: dir });
    await log.append('s-1', [{ type: 'T', data: 1, id: 'a' }]);
    await log.close();
    const impostor: PayloadCodec = { name: 'json', encode: (d) => jsonCodec.encode(d, { stream: '', type: '' }), decode: (b) => jsonCodec.decode(b, { stream: '', type: '' }) };
    await assert.rejects(openLog({ path: dir, codec: impostor }), (e) => isStrandError(e, 'STRAND_INVALID_ARGUMENT') && /record format 3/.test((e as Error).message));
    const again = await openLog({ path: dir });
    try {
      const retry = await again.append('s-1', [{ type: 'T', data: 1, id: 'a' }], { expectedVersion: 0 });
      assert.deepEqual([retry.idempotent, retry.version], [true, 1]);
      await again.append('s-1', [{ type: 'T', data: 2 }]);
      assert.deepEqual(await again.truncateBefore('s-1', 2), { truncatedBefore: 2, removed: 1 });
      assert.deepEqual((await collect(again.readAll())).map((e) => e.data), [2]);
      assert.deepEqual((await again.verify()).problems, []);
    } finally {
      await again.close();
    }
    assert.equal((await onDisk(dir)).format, 3);
  });
});
