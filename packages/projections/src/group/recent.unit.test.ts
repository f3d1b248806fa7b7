import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentMap } from './recent.js';

describe('RecentMap', () => {
  it('holds at most limit keys, and every key of the last limit / 2 sets not deleted since', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.integer({ min: 0, max: 60 })), { maxLength: 400 }), (limit, ops) => {
        const recent = new RecentMap<number, number>(limit);
        // The model: the keys of the set operations in order, and the keys deleted since their last set.
        const sets: number[] = [];
        const deleted = new Set<number>();
        ops.forEach(([op, key], i) => {
          if (op === 'set') {
            recent.set(key, i);
            sets.push(key);
            deleted.delete(key);
          } else {
            recent.delete(key);
            deleted.add(key);
          }
          expect(recent.size).toBeLessThanOrEqual(limit);
          for (const k of sets.slice(-Math.floor(limit / 2))) if (!deleted.has(k)) expect(recent.get(k), `key ${k} after op ${i}`).toBeDefined();
          if (op === 'delete') expect(recent.get(key)).toBeUndefined();
        });
        // What it holds for a key is what was set last for it.
        for (const k of new Set(sets)) {
          const v = recent.get(k);
          if (v !== undefined) expect(ops.findLastIndex(([op, key]) => op === 'set' && key === k)).toBe(v);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a limit below 2', () => {
    expect(() => new RecentMap(1)).toThrow(TypeError);
  });
});
