/**
 * Fair admission of appends from many tenants into one process and one store.
 * Design: docs/design/0008-tenancy.md, "Quotas and fairness".
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/**
 * A fixed number of append slots shared by every tenant, each tenant entitled to its fair share
 * of them (`slots` divided by the tenants running or waiting, at least one).
 *
 * While slots are free anyone takes one. A tenant below its share is admitted at once even when a
 * flooding neighbour holds every slot (it borrows, up to twice `slots` in all), so a quiet
 * tenant's append never waits for the flood's appends to finish; the flooding tenant gets no new
 * slot until it is back under its share. Calls that must wait queue per tenant, and each freed
 * slot goes to the next *tenant* in round-robin order. Waiting costs a pending promise only:
 * nothing is prepared or encoded before admission.
 */
export class FairScheduler {
  private inFlight = 0;
  /** Admitted calls per tenant, only for tenants with one or more. */
  private readonly running = new Map<string, number>();
  /** Waiting calls per tenant; the map's insertion order is the round-robin order. */
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(
    /** Appends admitted at once across all tenants (borrowing can take it to twice this). */
    readonly slots: number,
  ) {
    if (!Number.isSafeInteger(slots) || slots < 1) throw new InvalidArgumentError(`fairSlots must be a positive integer; got ${String(slots)}.`);
  }

  /** Runs `fn` once a slot is free for `tenant`. */
  async run<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    if (this.admits(tenant)) this.take(tenant);
    else
      await new Promise<void>((resolve) => {
        const q = this.queues.get(tenant);
        if (q === undefined) this.queues.set(tenant, [resolve]);
        else q.push(resolve);
      });
    try {
      return await fn();
    } finally {
      this.release(tenant);
    }
  }

  /** Calls waiting for a slot, per tenant (for metrics and tests). */
  waiting(): Map<string, number> {
    return new Map([...this.queues].map(([t, q]) => [t, q.length]));
  }

  private admits(tenant: string): boolean {
    // A tenant that already waits keeps its own order.
    if (this.queues.has(tenant)) return false;
    if (this.inFlight < this.slots && this.queues.size === 0) return true;
    return (this.running.get(tenant) ?? 0) < this.share(tenant) && this.inFlight < 2 * this.slots;
  }

  /** `slots` over the tenants running or waiting, `tenant` included; at least one. */
  private share(tenant: string): number {
    const active = this.activeTenants() + (this.running.has(tenant) || this.queues.has(tenant) ? 0 : 1);
    return Math.max(1, Math.floor(this.slots / active));
  }

  /** Tenants running or waiting. */
  private activeTenants(): number {
    let active = this.running.size;
    for (const t of this.queues.keys()) if (!this.running.has(t)) active++;
    return active;
  }

  private take(tenant: string): void {
    this.inFlight++;
    this.running.set(tenant, (this.running.get(tenant) ?? 0) + 1);
  }

  private release(tenant: string): void {
    this.inFlight--;
    const n = this.running.get(tenant)! - 1;
    if (n === 0) this.running.delete(tenant);
    else this.running.set(tenant, n);
    while (this.inFlight < this.slots) {
      // The next tenant in round-robin order that is below its share. A tenant at its share gets
      // nothing more, even with slots free, while a neighbour is active: the freed slot is what
      // keeps that neighbour's appends from queueing behind the flood's in the store.
      const share = Math.max(1, Math.floor(this.slots / this.activeTenants()));
      let next: string | undefined;
      for (const t of this.queues.keys()) {
        if ((this.running.get(t) ?? 0) < share) {
          next = t;
          break;
        }
      }
      if (next === undefined) return;
      const q = this.queues.get(next)!;
      const wake = q.shift()!;
      this.queues.delete(next);
      if (q.length > 0) this.queues.set(next, q);
      this.take(next);
      wake();
    }
  }
}
