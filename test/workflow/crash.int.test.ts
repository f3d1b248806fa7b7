import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLog } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { runUntilAcked } from '../support/child.js';
import { audit, openShop } from './shop.js';

// A process running the fulfilment workflow (orders placed and paid, payment deadlines of 30 ms on
// real timers) is SIGKILLed at random moments. After every restart, once the workflow has caught
// up and every deadline has come: each order is confirmed or cancelled, each instance completed
// exactly once, each input applied once, each deadline fired at most once (exactly once for the
// orders cancelled by it), and no stock is oversold or left reserved.
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const rounds = Number(process.env.STRAND_CRASH_ROUNDS ?? 4);

describe('workflow crash safety (SIGKILL)', () => {
  it(`completes every instance exactly once and fires deadlines once over ${rounds} kills`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-wf-crash-'));
    const seed = Date.now() % 10_000;
    try {
      for (let round = 0; round < rounds; round++) {
        const roundSeed = seed * 31 + round;
        await runUntilAcked(child, [dir, String(roundSeed)], 3 + (roundSeed % 15));
        const log = await openLog({ path: dir });
        // The restarted runner catches up (deadlines it schedules now are 30 ms after its clock),
        // then its clock jumps ahead so that every deadline scheduled so far is due.
        let ahead = 0;
        const shop = openShop(log, { paymentTimeoutMs: 30, timers: false, clock: () => Date.now() + ahead });
        await shop.runner.start();
        await shop.runner.settle(60_000);
        ahead = 3_600_000;
        await shop.runner.fireDue();
        await shop.runner.settle(60_000);
        const where = `round ${round}, seed ${seed}`;
        expect(shop.runner.parked(), where).toEqual([]);
        expect(await shop.runner.pendingDeadlines(), where).toEqual([]);
        const { orders, perOrder, instances, stockEvents } = await audit(log);
        expect(orders.size, where).toBeGreaterThan(0);
        for (const [id, o] of orders) {
          const c = perOrder.get(id) ?? { reserved: 0, committed: 0, released: 0 };
          const inst = instances.get(id);
          const at = `${where}, order ${id}`;
          expect(['confirmed', 'cancelled'], at).toContain(o.status);
          expect(inst?.completed, at).toBe(1);
          expect(new Set(inst!.sources).size, `${at}: an input applied twice`).toBe(inst!.sources.length);
          expect(inst!.deadlineFires, at).toBeLessThanOrEqual(1);
          expect(c.reserved, at).toBeLessThanOrEqual(1);
          if (o.status === 'confirmed') expect([o.paid, c.reserved, c.committed, c.released], at).toEqual([true, 1, 1, 0]);
          else {
            expect(['OUT_OF_STOCK', 'PAYMENT_TIMEOUT'], at).toContain(o.reason);
            expect([c.committed, c.released], at).toEqual([0, c.reserved]);
            if (o.reason === 'PAYMENT_TIMEOUT') expect(inst!.deadlineFires, at).toBe(1);
          }
        }
        for (let s = 0; s < 3; s++) {
          const state = (await shop.stock.load(`sku-${s}`)).state;
          expect(state.reserved, where).toEqual({});
          expect(state.available + state.sold, `${where}: sku-${s} units`).toBe(12);
        }
        expect(stockEvents.filter((e) => e.type === 'Restocked')).toHaveLength(3);
        await shop.close();
        await log.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
