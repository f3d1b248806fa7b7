/**
 * The runner's position in the log: events are handled out of order (instances run in parallel),
 * but the position only moves over a run of handled events, so every event up to it is handled
 * (committed, skipped or held for a parked instance) and a restart from it loses nothing.
 *
 * @module
 */

/** An event being handled: `done` once its step committed, was skipped or held. */
export interface Slot {
  position: number;
  done: boolean;
}

/** Slots in log order, the position over their handled prefix, and those waiting for it to move. */
export class Progress {
  private readonly slots: Slot[] = [];
  private head = 0;
  private waiters: Array<() => void> = [];
  /** Every event up to here has been handled. */
  position = 0;

  /** Events taken from the log and not yet passed by the position. */
  get pending(): number {
    return this.slots.length - this.head;
  }

  /** Tracks the event at `position` (the next in log order). */
  add(position: number): Slot {
    const slot: Slot = { position, done: false };
    this.slots.push(slot);
    return slot;
  }

  /** Marks a slot handled; moves the position over the handled prefix. True if it moved (waiters are woken). */
  done(slot: Slot): boolean {
    slot.done = true;
    let moved = false;
    while (this.head < this.slots.length && this.slots[this.head]!.done) {
      this.position = this.slots[this.head]!.position;
      this.head++;
      moved = true;
    }
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
    if (moved) this.wake();
    return moved;
  }

  /** Resolves every {@link next} waiting now. */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next {@link wake} (the position moved, or the runner stopped), or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (timeoutMs === undefined) {
        this.waiters.push(resolve);
        return;
      }
      const t = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
