import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { collect } from '@strand/core/testing';
import { isStrandError, openLog, type RecordedEvent } from '@strand/core';
import { ClassicLevel } from 'classic-level';
import { unpack } from 'msgpackr';
import { describe, it } from 'vitest';
import { scratchDirs } from '../support/scratch.js';

// A LevelDB log written by Strand with record format 2 (fixtures/make-format2-log.mjs, run with
// the last Strand that wrote format 2 for JSON logs). Today's Strand reads it and keeps writing
// format 2 to it: a store stays on one record format (docs/design/0010-cpu-per-event.md, "Record
// format 3"), so its reads never sniff a value's format.
const fixture = fileURLToPath(new URL('./fixtures/format2-log', import.meta.url));
const T0 = 1_764_000_000_000;
const scratch = scratchDirs('format2');
const copyOfFixture = () => scratch.copyOf(fixture);

const plain = (e: RecordedEvent) => ({ ...e });

describe('a store written by record format 2', () => {
  it('reads every stream, the global order and the hierarchy as written', async () => {
    const log = await openLog({ path: await copyOfFixture() });
    try {
      assert.equal(log.position, 11);
      assert.deepEqual((await collect(log.readStream('orders/eu/o-1'))).map(plain), [
        { stream: 'orders/eu/o-1', version: 1, position: 1, type: 'OrderPlaced', id: '0b8f5a3e-2c1d-4e6f-9a7b-1c2d3e4f5a6b', timestamp: T0 + 1, data: { total: 42, items: ['a', 'b'] }, metadata: undefined, schemaVersion: undefined },
        { stream: 'orders/eu/o-1', version: 2, position: 2, type: 'OrderPaid', id: 'payment-1', timestamp: T0 + 1, data: { amount: 42 }, metadata: { user: 'ann', correlationId: 'c-1' }, schemaVersion: undefined },
        { stream: 'orders/eu/o-1', version: 3, position: 11, type: 'OrderShipped', id: 'ship-1', timestamp: T0 + 10, data: { carrier: 'x' }, metadata: undefined, schemaVersion: undefined },
      ]);
      const [o2] = await collect(log.readStream('orders/eu/o-2'));
      assert.deepEqual([o2!.id, o2!.schemaVersion, o2!.data], ['BDA5E3AC-9F1E-4B71-8C3F-2A4B5C6D7E8F', 2, { total: 7 }]);
      const [o3] = await collect(log.readStream('orders/us/o-3'));
      assert.deepEqual([o3!.type, o3!.data], ['Ünïcödé', { note: 'naïve café ✓' }]);
      assert.deepEqual((await collect(log.readStream('accounts/a-1', { from: 3 }))).map((e) => [e.version, e.id, e.data]), [
        [3, 'dep-3', { amount: 3 }],
        [4, 'dep-4', { amount: 4 }],
        [5, 'dep-5', { amount: 5 }],
      ]);
      await assert.rejects(collect(log.readStream('accounts/a-1')), (e) => isStrandError(e, 'STRAND_STREAM_TRUNCATED'));
      await assert.rejects(collect(log.readStream('tmp/t-1')), (e) => isStrandError(e, 'STRAND_STREAM_DELETED'));
      assert.deepEqual((await collect(log.readAll())).map((e) => [e.position, e.stream]), [
        [1, 'orders/eu/o-1'],
        [2, 'orders/eu/o-1'],
        [3, 'orders/eu/o-2'],
        [4, 'orders/us/o-3'],
        [7, 'accounts/a-1'],
        [8, 'accounts/a-1'],
        [9, 'accounts/a-1'],
        [10, 'tmp/t-1'],
        [11, 'orders/eu/o-1'],
      ]);
      assert.deepEqual((await log.listChildren('orders')).entries.map((e) => e.name), ['orders/eu', 'orders/us']);
      const report = await log.verify();
      assert.deepEqual(report, { events: 9, streams: 5, truncated: 2, lastPosition: 11, problems: [] });
    } finally {
      await log.close();
    }
  });

  it('stays on format 2: appends, retries, truncation and verify after reopening with today\'s Strand', async () => {
    const dir = await copyOfFixture();
    const log = await openLog({ path: dir });
    try {
      const retry = await log.append('orders/eu/o-1', [{ type: 'OrderShipped', data: { carrier: 'x' }, id: 'ship-1' }], { expectedVersion: 2 });
      assert.deepEqual([retry.idempotent, retry.version, retry.position], [true, 3, 11]);
      const r = await log.append('orders/eu/o-1', [{ type: 'OrderDelivered', data: { at: 'door' }, metadata: { user: 'bob' } }], { expectedVersion: 3 });
      assert.deepEqual([r.version, r.position], [4, 12]);
      await log.append('accounts/a-1', [{ type: 'Deposited', data: { amount: 6 }, id: 'dep-6' }], { expectedVersion: 5 });
      assert.deepEqual((await collect(log.readStream('orders/eu/o-1'))).map((e) => [e.version, e.type, e.data, e.metadata]), [
        [1, 'OrderPlaced', { total: 42, items: ['a', 'b'] }, undefined],
        [2, 'OrderPaid', { amount: 42 }, { user: 'ann', correlationId: 'c-1' }],
        [3, 'OrderShipped', { carrier: 'x' }, undefined],
        [4, 'OrderDelivered', { at: 'door' }, { user: 'bob' }],
      ]);
      assert.deepEqual(await log.truncateBefore('orders/eu/o-1', 4), { truncatedBefore: 4, removed: 3 });
      assert.deepEqual(await log.verify(), { events: 8, streams: 5, truncated: 5, lastPosition: 13, problems: [] });
    } finally {
      await log.close();
    }
    // The format record still says 2, and the records appended are format-2 binary ones.
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      const format = await raw.get(Uint8Array.of(0x10, ...Buffer.from('format')));
      assert.equal((unpack(format!) as { format: number }).format, 2);
      const newest = await raw.values({ gte: Uint8Array.of(0x20), lt: Uint8Array.of(0x21), reverse: true, limit: 2 }).all();
      assert.deepEqual(newest.map((v) => v[0]), [0x02, 0x02]);
    } finally {
      await raw.close();
    }
    const again = await openLog({ path: dir });
    try {
      assert.deepEqual((await collect(again.readAll())).map((e) => e.position), [3, 4, 7, 8, 9, 10, 12, 13]);
      assert.deepEqual((await collect(again.readStream('accounts/a-1', { from: 3 }))).map((e) => e.id), ['dep-3', 'dep-4', 'dep-5', 'dep-6']);
    } finally {
      await again.close();
    }
  });
});
