import type { EventLog } from '@strand/core';
import { collect } from '@strand/core/testing';
import { describe, expect, it } from 'vitest';
import { Account } from './account.fixture.js';
import { codeOf, levelDbLogPerTest } from './log.fixture.js';
import { AggregateRepository } from './repository.js';
import { Order, Stock } from './stock.fixture.js';
import { UnitOfWork } from './uow.js';

let log: EventLog;
levelDbLogPerTest('strand-uow-', (l) => {
  log = l;
});

describe('UnitOfWork', () => {
  it('40 racing orders on stock for 14: exactly 14 confirmed, no oversell, no retries exhausted', async () => {
    const stock = new AggregateRepository(log, Stock);
    const orders = new AggregateRepository(log, Order);
    const uow = new UnitOfWork(log);
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 14 } });
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        codeOf(
          uow.run(async (tx) => {
            await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: `o-${i}`, quantity: 1 } });
            await tx.handle(orders, `o-${i}`, { type: 'Confirm', data: { sku: 'sku-1' } });
          }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(14);
    expect(outcomes.filter((o) => o === 'OUT_OF_STOCK')).toHaveLength(26);
    expect((await stock.load('sku-1')).state.available).toBe(0);
    let confirmed = 0;
    for (let i = 0; i < 40; i++) if ((await orders.load(`o-${i}`)).state.confirmed) confirmed++;
    expect(confirmed).toBe(14);
    // Every reservation has its confirmation in the same commit (same global positions block).
    for await (const e of log.readStream('stock/sku-1', { from: 2 })) {
      const order = (e.data as { order: string }).order;
      const [confirm] = await collect(log.readStream(`orders/${order}`));
      expect(confirm!.position).toBe(e.position + 1);
    }
    uow.close();
  });

  it('units in one process queue on the streams they touch: no conflicts, no deadlock in any order', async () => {
    const stock = new AggregateRepository(log, Stock);
    const uow = new UnitOfWork(log, { maxRetries: 3 });
    for (const sku of ['a', 'b', 'c']) await stock.handle(sku, { type: 'Add', data: { quantity: 100 } });
    const orders = [
      ['a', 'b'],
      ['b', 'a'],
      ['c', 'a', 'b'],
      ['b', 'c'],
    ];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        uow.run(async (tx) => {
          for (const sku of orders[i % orders.length]!) await tx.handle(stock, sku, { type: 'Reserve', data: { order: `o-${i}`, quantity: 1 } });
        }),
      ),
    );
    // Only the first attempt of a unit can race (on a stream it found locked out of order).
    expect(results.every((r) => r.retries <= 1)).toBe(true);
    const left = await Promise.all(['a', 'b', 'c'].map(async (sku) => (await stock.load(sku)).state.available));
    expect(left).toEqual([100 - 30, 100 - 40, 100 - 20]);
    uow.close();
  });

  it('is atomic: a refusal in the second command writes nothing of the first', async () => {
    const stock = new AggregateRepository(log, Stock);
    const orders = new AggregateRepository(log, Order);
    const uow = new UnitOfWork(log);
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 5 } });
    await orders.handle('o-1', { type: 'Confirm', data: { sku: 'sku-1' } });
    const before = log.position;
    expect(
      await codeOf(
        uow.run(async (tx) => {
          await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 1 } });
          await tx.handle(orders, 'o-1', { type: 'Confirm', data: { sku: 'sku-1' } });
        }),
      ),
    ).toBe('ALREADY_CONFIRMED');
    expect(log.position).toBe(before);
    // Decisions on one aggregate compose inside the unit: the second sees the first's events.
    const r = await uow.run(async (tx) => {
      await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'a', quantity: 3 } });
      expect((await tx.load(stock, 'sku-1')).state.available).toBe(2);
      await expect(tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'b', quantity: 3 } })).rejects.toThrow(/Only 2 left/);
      await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'b', quantity: 2 } });
    });
    expect(r.streams.map((s) => [s.stream, s.version, s.events.length])).toEqual([['stock/sku-1', 3, 2]]);
    // A savepoint undoes what was decided after it, on every aggregate of the unit.
    const r2 = await uow.run(async (tx) => {
      const undo = tx.savepoint();
      await tx.handle(orders, 'o-9', { type: 'Confirm', data: { sku: 'sku-1' } });
      await expect(tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-9', quantity: 1 } })).rejects.toThrow(/Only 0 left/);
      undo();
      expect((await tx.load(orders, 'o-9')).state.confirmed).toBe(false);
      await tx.handle(stock, 'sku-1', { type: 'Add', data: { quantity: 1 } });
    });
    expect(r2.streams.map((s) => s.stream)).toEqual(['stock/sku-1']);
    uow.close();
  });

  it('command ids: a re-run is idempotent and handle() with the same id on a stream sees it', async () => {
    const stock = new AggregateRepository(log, Stock);
    const orders = new AggregateRepository(log, Order);
    const uow = new UnitOfWork(log);
    const second = new UnitOfWork(log); // two units on one log share the id records
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 5 } });
    const work = async (tx: Parameters<Parameters<UnitOfWork['run']>[0]>[0]) => {
      await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 1 } });
      await tx.handle(orders, 'o-1', { type: 'Confirm', data: { sku: 'sku-1' } });
    };
    const [a, b] = await Promise.all([uow.run(work, { commandId: 'c-1' }), second.run(work, { commandId: 'c-1' })]);
    expect([a.idempotent, b.idempotent].sort()).toEqual([false, true]);
    expect(b.position).toBe(a.position);
    expect(b.streams.map((s) => s.events.map((e) => e.id))).toEqual(a.streams.map((s) => s.events.map((e) => e.id)));
    const again = await uow.run(work, { commandId: 'c-1' });
    expect(again.idempotent).toBe(true);
    expect((await stock.load('sku-1')).state.available).toBe(4);
    const viaHandle = await stock.handle('sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 1 } }, { commandId: 'c-1' });
    expect(viaHandle.idempotent).toBe(true);
    expect(viaHandle.version).toBe(2);
    // Correlation metadata reaches every event, with the command type and aggregate.
    const [reserved] = await collect(log.readStream('stock/sku-1', { from: 2 }));
    expect(reserved!.metadata).toMatchObject({ aggregate: 'stock', commandType: 'Reserve', commandId: 'c-1' });
    uow.close();
    second.close();
  });

  it('honours snapshot policies of the repositories it writes through', async () => {
    const stock = new AggregateRepository(log, Stock, { snapshots: { every: 2 } });
    const orders = new AggregateRepository(log, Order);
    const uow = new UnitOfWork(log);
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 5 } });
    await uow.run(async (tx) => {
      await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o-1', quantity: 2 } });
      await tx.handle(orders, 'o-1', { type: 'Confirm', data: { sku: 'sku-1' } });
    });
    await stock.flush();
    expect(await stock.storedSnapshot('sku-1')).toMatchObject({ version: 2, state: { available: 3 } });
    expect((await stock.load('sku-1')).replayed).toBe(0);
    uow.close();
  });

  it('retries the whole decision after a conflict, with the injected jittered backoff', async () => {
    const stock = new AggregateRepository(log, Stock);
    const waits: number[] = [];
    const uow = new UnitOfWork(log, { backoffMs: 8, random: () => 0.5, sleep: async (ms) => void waits.push(ms) });
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 1 } });
    const seen: number[] = [];
    const r = await uow.run(async (tx) => {
      seen.push((await tx.load(stock, 'sku-1')).state.available);
      // A concurrent writer lands between this attempt's load and its commit, twice.
      if (tx.attempt < 2) await log.append('stock/sku-1', [{ type: 'Added', data: { quantity: 1 } }]);
      await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o', quantity: 1 } });
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(r.retries).toBe(2);
    expect(waits).toEqual([8 * 0.75, 16 * 0.75]);
    const exhausted = new UnitOfWork(log, { maxRetries: 1, sleep: async () => {} });
    expect(
      await codeOf(
        exhausted.run(async (tx) => {
          await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'p', quantity: 1 } });
          await log.append('stock/sku-1', [{ type: 'Added', data: { quantity: 1 } }]);
        }),
      ),
    ).toBe('STRAND_CONCURRENCY_RETRIES_EXHAUSTED');
    uow.close();
    exhausted.close();
  });

  it('expectedVersion: pinned versions fail at once instead of retrying, in a unit and in handle()', async () => {
    const stock = new AggregateRepository(log, Stock);
    const accounts = new AggregateRepository(log, Account);
    const uow = new UnitOfWork(log, { sleep: async () => {} });
    await stock.handle('sku-1', { type: 'Add', data: { quantity: 3 } });
    expect(await codeOf(uow.run((tx) => tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o', quantity: 1 } }, { expectedVersion: 0 }).then(() => {})))).toBe(
      'STRAND_WRONG_EXPECTED_VERSION',
    );
    let attempts = 0;
    expect(
      await codeOf(
        uow.run(async (tx) => {
          attempts++;
          await tx.handle(stock, 'sku-1', { type: 'Reserve', data: { order: 'o', quantity: 1 } }, { expectedVersion: 1 });
          await log.append('stock/sku-1', [{ type: 'Added', data: { quantity: 1 } }]);
        }),
      ),
    ).toBe('STRAND_WRONG_EXPECTED_VERSION');
    expect(attempts).toBe(1);
    await accounts.handle('a', { type: 'Open', data: { owner: 'ada' } });
    expect(await codeOf(accounts.handle('a', { type: 'Deposit', data: { amount: 5 } }, { expectedVersion: 0 }))).toBe('STRAND_WRONG_EXPECTED_VERSION');
    const ok = await accounts.handle('a', { type: 'Deposit', data: { amount: 5 } }, { expectedVersion: 1, commandId: 'd-1' });
    expect(ok.version).toBe(2);
    // A re-sent command with its id returns the original result even though the version moved on.
    expect((await accounts.handle('a', { type: 'Deposit', data: { amount: 5 } }, { expectedVersion: 1, commandId: 'd-1' })).idempotent).toBe(true);
    expect(await codeOf(accounts.handle('a', { type: 'Deposit', data: { amount: 5 } }, { expectedVersion: -1 }))).toBe('STRAND_INVALID_ARGUMENT');
    uow.close();
  });
});
