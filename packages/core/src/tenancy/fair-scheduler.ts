/**
 * Fair admission of appends from many tenants into one process and one store.
 * Design: docs/design/0008-tenancy.md, "Quotas and fairness".
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/**
 * A fixed number of append slots shared by every tenant. While slots are free anyone takes one;
 * once they are all taken, waiting calls queue per tenant and each freed slot goes to the next
 * tenant in round-robin order. So a tenant with hundreds of appends in flight has at most `slots`
 * of them ahead of another tenant's append, instead of all of them: a flood costs its neighbours
 * one turn, not the length of its queue.
 */
export class FairScheduler {
  private inFlight = 0;
  /** Waiting calls per tenant; the map's insertion order is the round-robin order. */
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(
    /** Appends admitted at once across all tenants. */
    readonly slots: number,
  ) {
    if (!Number.isSafeInteger(slots) || slots < 1) throw new InvalidArgumentError(`fairSlots must be a positive integer; got ${String(slots)}.`);
  }

  /** Runs `fn` once a slot is free for `tenant`. */
  async run<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    if (this.inFlight < this.slots && this.queues.size === 0) this.inFlight++;
    else
      await new Promise<void>((resolve) => {
        const q = this.queues.get(tenant);
        if (q === undefined) this.queues.set(tenant, [resolve]);
        else q.push(resolve);
      });
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const first = this.queues.entries().next();
    if (first.done === true) {
      this.inFlight--;
      return;
    }
    const [tenant, q] = first.value;
    const wake = q.shift()!;
    // Served: the tenant goes to the back of the round.
    this.queues.delete(tenant);
    if (q.length > 0) this.queues.set(tenant, q);
    wake(); // the slot passes straight on, inFlight is unchanged
  }

  /** Calls waiting for a slot, per tenant (for metrics and tests). */
  waiting(): Map<string, number> {
    return new Map([...this.queues].map(([t, q]) => [t, q.length]));
  }
}
