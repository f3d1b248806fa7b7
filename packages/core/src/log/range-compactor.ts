/**
 * Physical removal of truncated history, in the background: `truncateBefore` deletes the events
 * at once (they are gone for every reader) and hands the key range to this compactor, which asks
 * the store to compact it later, coalesced and at a bounded rate. Compacting on every call cost
 * more as the database grew (10.6 ms after a few thousand events, 382 ms after 600,000) and a
 * soak with truncating snapshot policies fell to 0.56 of its first minute (issue 23;
 * docs/design/0002-commit-path.md, "Truncation").
 *
 * @module
 */

/** A key range `[start, end]` to compact. */
type Range = [start: Uint8Array, end: Uint8Array];

/** How much of the time compaction may take, and what it calls. */
export interface RangeCompactorOptions {
  /** Compacts one range (the store's `compactRange`). */
  compact: (start: Uint8Array, end: Uint8Array) => Promise<void>;
  /** The log's clock (ms), to measure how long a compaction took. */
  now: () => number;
  /** Largest share of wall time spent compacting (default 0.1): after a compaction that took t, pause t * (1 - d) / d. */
  dutyCycle?: number;
  /** Shortest pause between two compactions, ms (default 250): ranges arriving meanwhile coalesce. */
  minPauseMs?: number;
  /** A compaction failed (logged; the range is not retried: the store compacts it eventually). */
  onError: (err: unknown) => void;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** Compacts ranges one at a time, coalescing overlapping ones, at a bounded duty cycle. */
export class RangeCompactor {
  /** Ranges waiting, sorted by start, never overlapping. */
  private pending: Range[] = [];
  private running: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  /** Compactions run so far (tests and diagnostics). */
  compactions = 0;
  private readonly dutyCycle: number;
  private readonly minPauseMs: number;

  constructor(private readonly o: RangeCompactorOptions) {
    this.dutyCycle = o.dutyCycle ?? 0.1;
    this.minPauseMs = o.minPauseMs ?? 250;
  }

  /** Ranges waiting to be compacted. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Queues a range; overlapping or touching queued ranges merge into one. */
  add(start: Uint8Array, end: Uint8Array): void {
    if (this.closed) return;
    let lo = start;
    let hi = end;
    const kept: Range[] = [];
    for (const r of this.pending) {
      if (compare(r[1], lo) < 0 || compare(r[0], hi) > 0) kept.push(r);
      else {
        if (compare(r[0], lo) < 0) lo = r[0];
        if (compare(r[1], hi) > 0) hi = r[1];
      }
    }
    kept.push([lo, hi]);
    kept.sort((a, b) => compare(a[0], b[0]));
    this.pending = kept;
    this.kick();
  }

  /** Drops what is queued (a full compaction is about to cover it). */
  clear(): void {
    this.pending = [];
  }

  /** Resolves once nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running) {
      this.wake?.();
      await this.running;
    }
  }

  /** Stops: drops what is queued and waits for the compaction under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = [];
    this.wake?.();
    await this.running;
  }

  private kick(): void {
    if (this.running || this.closed || this.pending.length === 0) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async loop(): Promise<void> {
    for (let r = this.pending.shift(); r !== undefined && !this.closed; r = this.pending.shift()) {
      const t0 = this.o.now();
      try {
        await this.o.compact(r[0], r[1]);
      } catch (err) {
        this.o.onError(err);
      }
      this.compactions++;
      // Closed while that compaction ran: nothing may wake a pause any more (close() already
      // called wake), and its unref'd timer would leave close() pending for up to took * 9.
      if (this.closed) break;
      const took = Math.max(0, this.o.now() - t0);
      await this.pause(Math.max(this.minPauseMs, (took * (1 - this.dutyCycle)) / this.dutyCycle));
    }
  }

  /** Waits `ms` (an unref'd timer: it never keeps a process alive), or less when woken. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wake = done;
    });
  }
}
