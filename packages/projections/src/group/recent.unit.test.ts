import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentMap } from './recent.js';

describe('RecentMap', () => {
  it('holds at most limit keys and always the limit / 2 most recently set', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.integer({ min: 0, max: 60 })), { maxLength: 400 }), (limit, ops) => {
        const recent = new RecentMap<number, number>(limit);
        // The model: keys in order of their last set, deleted ones removed.
        let order: number[] = [];
        ops.forEach(([op, key], i) => {
          order = order.filter((k) => k !== key);
          if (op === 'set') {
            recent.set(key, i);
            order.push(key);
          } else recent.delete(key);
          expect(recent.size).toBeLessThanOrEqual(limit);
          for (const k of order.slice(-Math.floor(limit / 2))) expect(recent.get(k), `key ${k} after op ${i}`).toBeDefined();
          if (op === 'delete') expect(recent.get(key)).toBeUndefined();
        });
        // What it holds is what was set last for that key.
        for (const k of order) {
          const v = recent.get(k);
          if (v !== undefined) expect(ops[v]).toEqual(['set', k]);
        }
      }),
    );
  });

  it('refuses a limit below 2', () => {
    expect(() => new RecentMap(1)).toThrow(TypeError);
  });
});
