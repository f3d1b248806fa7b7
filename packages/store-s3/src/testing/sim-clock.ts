/**
 * A virtual clock for deterministic simulations: time moves only when every pending task is
 * blocked on a timer, then jumps to the earliest one.
 *
 * @module
 */
import type { Clock } from '../clock.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Virtual time; drive it with {@link SimClock.run}. */
export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Runs `task` to completion, advancing virtual time whenever nothing else can run. Deterministic:
   * timers fire in (time, creation) order, and only after the microtask queue and pending
   * immediates have drained.
   */
  async run<T>(task: Promise<T>, maxSteps = 10_000_000): Promise<T> {
    let done = false;
    let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    task.then(
      (value) => {
        done = true;
        result = { ok: true, value };
      },
      (error: unknown) => {
        done = true;
        result = { ok: false, error };
      },
    );
    for (let step = 0; step < maxSteps; step++) {
      await drain();
      if (done) break;
      if (this.timers.length === 0) {
        await drain();
        if (done) break;
        throw new Error('SimClock.run: deadlock (the task waits on something that is not a timer)');
      }
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift() as Timer;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    if (!result) throw new Error('SimClock.run: step limit reached');
    if (!result.ok) throw result.error;
    return result.value;
  }
}

function drain(): Promise<void> {
  // setImmediate runs after the microtask queue is empty; twice covers promise chains that
  // themselves schedule one more round.
  return new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
}
