import { describe, expect, it } from 'vitest';
import { RangeCompactor } from './range-compactor.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('RangeCompactor', () => {
  it('closes at once when closed while a compaction runs (no pause after it)', async () => {
    const started = deferred();
    const finish = deferred();
    let clock = 0;
    const c = new RangeCompactor({
      compact: async () => {
        started.resolve();
        await finish.promise;
        // The compaction "took" 100 s: the duty cycle would pause 900 s after it.
        clock += 100_000;
      },
      now: () => clock,
      onError: (err) => {
        throw err;
      },
    });
    c.add(Uint8Array.of(1), Uint8Array.of(2));
    await started.promise;
    const closing = c.close();
    finish.resolve();
    await closing;
    expect(c.compactions).toBe(1);
    expect(c.waiting).toBe(0);
  });

  it('coalesces overlapping ranges queued while one runs', async () => {
    const started = deferred();
    const finish = deferred();
    const seen: Array<[number, number]> = [];
    const c = new RangeCompactor({
      compact: async (a, b) => {
        seen.push([a[0]!, b[0]!]);
        if (seen.length === 1) {
          started.resolve();
          await finish.promise;
        }
      },
      now: () => 0,
      minPauseMs: 0,
      onError: (err) => {
        throw err;
      },
    });
    c.add(Uint8Array.of(1), Uint8Array.of(2));
    await started.promise;
    c.add(Uint8Array.of(3), Uint8Array.of(5));
    c.add(Uint8Array.of(4), Uint8Array.of(8));
    expect(c.waiting).toBe(1);
    finish.resolve();
    await c.idle();
    expect(seen).toEqual([
      [1, 2],
      [3, 8],
    ]);
    await c.close();
  });
});
