/**
 * One background task with backoff: memtable flushes, compactions and follower polls all run
 * through it. At most one run at a time; `kick()` starts a run when the task has work; a run that
 * throws is reported and retried after a backoff on the injected clock, so a task that keeps
 * failing (the store is down) never spins (docs/design/0005, "Failure handling").
 *
 * @module
 */
import type { BackoffPolicy } from './backoff.js';
import { backoffDelay } from './backoff.js';
import type { Clock, Random } from './clock.js';

/** What a {@link BackgroundTask} runs and how. */
export interface BackgroundTaskOptions {
  clock: Clock;
  random: Random;
  /** True when there is work and the task may run (not closing, not fenced...). */
  ready: () => boolean;
  /** One run. */
  run: () => Promise<void>;
  /** A failed run; the task then backs off and tries again. */
  failed: (err: unknown) => void;
  /** Called when a backoff starts (e.g. to let writers stalled on this task go). */
  backingOff?: () => void;
  /**
   * After a successful run, run again this long after it *started* (a poll at a fixed rate: a
   * slow run does not push the next one back by its own length), else only when kicked.
   */
  everyMs?: number;
  /** Backoff between failed runs (default 100 ms doubling to 30 s, no jitter). */
  backoff?: BackoffPolicy;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 100, maxDelayMs: 30_000, jitter: false };

/** A background task; see the module comment. */
export class BackgroundTask {
  private current: Promise<void> | undefined;
  private failures = 0;
  private waiting = false;
  private stopped = false;
  private generation = 0;

  constructor(private readonly o: BackgroundTaskOptions) {}

  /** The run under way, if any. */
  get running(): Promise<void> | undefined {
    return this.current;
  }

  /** True while waiting out a backoff after a failure. */
  get backingOff(): boolean {
    return this.waiting && this.failures > 0;
  }

  /** Starts a run if none is under way or pending and the task is ready. */
  kick(): void {
    if (this.current || this.waiting || this.stopped || !this.o.ready()) return;
    const started = this.o.clock.now();
    this.current = this.o.run().then(
      () => {
        this.current = undefined;
        this.failures = 0;
        if (this.o.everyMs !== undefined) this.after(Math.max(0, this.o.everyMs - (this.o.clock.now() - started)));
        else this.kick();
      },
      (err: unknown) => {
        this.current = undefined;
        this.failures++;
        this.o.failed(err);
        this.o.backingOff?.();
        const delay = backoffDelay(this.failures, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random);
        this.after(Math.max(delay, this.o.everyMs ?? 0));
      },
    );
  }

  /** Starts the periodic schedule (a poll): the first run after `everyMs`. */
  start(): void {
    this.after(this.o.everyMs ?? 0);
  }

  /** Waits until no run is under way (kicking none). */
  async idle(): Promise<void> {
    while (this.current) await this.current.catch(() => undefined);
  }

  /** No more runs; waits for the one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    await this.idle();
  }

  private after(ms: number): void {
    if (this.stopped) return;
    this.waiting = true;
    const gen = this.generation;
    void this.o.clock.sleep(ms, { unref: true }).then(() => {
      if (gen !== this.generation) return;
      this.waiting = false;
      this.kick();
    });
  }
}
