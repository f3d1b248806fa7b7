/**
 * Time and randomness are injected so that the simulation test is deterministic.
 *
 * @module
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch (or since the simulation's start). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. `unref` timers must not keep a process alive (follower polls).
   */
  sleep(ms: number, options?: { unref?: boolean }): Promise<void>;
}

/** The real clock: `Date.now()` and `setTimeout` (`setImmediate` for 0 ms). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, options) =>
    new Promise<void>((resolve) => {
      // 0 means "next turn of the event loop": setTimeout(0) would wait a whole millisecond.
      if (ms <= 0 && !options?.unref) {
        setImmediate(resolve);
        return;
      }
      const t = setTimeout(resolve, ms);
      if (options?.unref) t.unref();
    }),
};

/** A random number generator returning floats in [0, 1), like `Math.random`. */
export type Random = () => number;

/** A small, fast seeded PRNG (mulberry32): same seed, same sequence. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
