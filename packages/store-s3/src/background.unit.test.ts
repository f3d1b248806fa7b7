import { describe, expect, it } from 'vitest';
import { BackgroundTask } from './background.js';
import { backoffDelay, retry } from './backoff.js';
import { seededRandom } from './clock.js';
import { SimClock } from './testing/sim-clock.js';

describe('backoff', () => {
  it('doubles the ceiling up to the maximum; full jitter stays within [1, ceiling]', () => {
    const policy = { baseDelayMs: 10, maxDelayMs: 100, jitter: false };
    expect([1, 2, 3, 4, 5, 40].map((a) => backoffDelay(a, policy, Math.random))).toEqual([10, 20, 40, 80, 100, 100]);
    const rnd = seededRandom(3);
    for (let a = 1; a < 50; a++) {
      const d = backoffDelay(a, { ...policy, jitter: true }, rnd);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(Math.min(100, 10 * 2 ** (a - 1)));
    }
  });

  it('retries for maxAttempts, or for the window when that is longer, on the injected clock', async () => {
    const clock = new SimClock();
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, jitter: false };
    const failing = (calls: number[]) => async (): Promise<never> => {
      calls.push(clock.now());
      throw new Error('down');
    };
    const a: number[] = [];
    await expect(clock.run(retry(failing(a), { clock, random: Math.random, policy, maxAttempts: 3, retryable: () => true }))).rejects.toThrow('down');
    expect(a.length).toBe(3);
    const b: number[] = [];
    const t0 = clock.now();
    await expect(
      clock.run(retry(failing(b), { clock, random: Math.random, policy, maxAttempts: 3, windowMs: 10_000, retryable: () => true })),
    ).rejects.toThrow('down');
    expect((b.at(-1) as number) - t0).toBeGreaterThanOrEqual(10_000);
    expect(b.length).toBeGreaterThan(3);
    const c: number[] = [];
    await expect(clock.run(retry(failing(c), { clock, random: Math.random, policy, maxAttempts: 5, retryable: () => false }))).rejects.toThrow();
    expect(c.length).toBe(1);
  });
});

describe('background task', () => {
  it('runs one at a time, backs off while failing, reports each failure and recovers', async () => {
    const clock = new SimClock();
    await clock.run(
      (async () => {
        let work = 3;
        let failuresLeft = 3;
        let running = 0;
        const starts: number[] = [];
        const failures: number[] = [];
        let backoffs = 0;
        const task = new BackgroundTask({
          clock,
          random: Math.random,
          ready: () => work > 0,
          run: async () => {
            running++;
            expect(running).toBe(1);
            starts.push(clock.now());
            await clock.sleep(1);
            running--;
            if (failuresLeft-- > 0) throw new Error('store down');
            work--;
          },
          failed: () => failures.push(clock.now()),
          backingOff: () => backoffs++,
        });
        task.kick();
        task.kick(); // already running: no second run
        while (work > 0) await clock.sleep(1000);
        expect(failures.length).toBe(3);
        expect(backoffs).toBe(3);
        // Backoff 100, 200, 400 ms after each failure, then the work drains without waiting.
        expect(starts.slice(0, 4).map((t, i) => t - (failures[i - 1] ?? 0))).toEqual([0, 100, 200, 400]);
        expect(starts.length).toBe(6);
        await task.stop();
        work = 1;
        task.kick();
        expect(task.running).toBeUndefined(); // stopped
      })(),
    );
  });
});
