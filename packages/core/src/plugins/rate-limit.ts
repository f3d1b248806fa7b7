/**
 * Rate limiting as an append interceptor: token buckets for events/s and bytes/s.
 * Design: docs/design/0008-tenancy.md, "Quotas".
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { AppendInterceptor } from '../plugins.js';
import { eventBytes } from '../tenancy/bytes.js';
import { QuotaExceededError } from '../tenancy/errors.js';
import type { EventInput } from '../types.js';

/**
 * A token bucket refilled at `rate` tokens per second up to `rate` (one second of burst). A take
 * larger than the bucket passes when the bucket is full and leaves it in debt, so no single
 * request is refused forever.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Tokens per second (also the burst). */
    readonly rate: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (!Number.isFinite(rate) || rate <= 0) throw new InvalidArgumentError(`A rate is a positive number per second; got ${rate}.`);
    this.tokens = rate;
    this.last = clock();
  }

  private refill(): void {
    const now = this.clock();
    if (now > this.last) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
  }

  /** Milliseconds until `cost` tokens could be taken (0 = now). */
  waitFor(cost: number): number {
    this.refill();
    const need = Math.min(cost, this.rate);
    return this.tokens >= need ? 0 : Math.ceil(((need - this.tokens) * 1000) / this.rate);
  }

  /** Takes `cost` tokens and returns 0, or takes nothing and returns the ms to wait. */
  tryTake(cost: number): number {
    const wait = this.waitFor(cost);
    if (wait === 0) this.tokens -= cost;
    return wait;
  }
}

/** Limits of a {@link RateLimiter}; an absent limit is unlimited. */
export interface RateLimits {
  /** Events appended per second. */
  appendEventsPerSecond?: number | undefined;
  /** Logical bytes (JSON data + metadata) appended per second. */
  appendBytesPerSecond?: number | undefined;
}

/**
 * The rate-limiting plugin: an {@link AppendInterceptor} that refuses an append over the rate with
 * `STRAND_QUOTA_EXCEEDED` (`details.retryAfterMs` says when to retry) before anything is written.
 * Both buckets are checked before either is charged, so a refused append costs nothing.
 */
export class RateLimiter implements AppendInterceptor {
  readonly name = 'rate-limit';
  private readonly events: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;

  constructor(limits: RateLimits, clock: () => number = Date.now) {
    if (limits === null || typeof limits !== 'object') throw new InvalidArgumentError('RateLimiter needs { appendEventsPerSecond?, appendBytesPerSecond? }.');
    this.events = limits.appendEventsPerSecond === undefined ? undefined : new TokenBucket(limits.appendEventsPerSecond, clock);
    this.bytes = limits.appendBytesPerSecond === undefined ? undefined : new TokenBucket(limits.appendBytesPerSecond, clock);
  }

  onAppend(events: readonly EventInput[]): readonly EventInput[] {
    const n = events.length;
    const size = this.bytes === undefined ? 0 : events.reduce((s, e) => s + eventBytes(e), 0);
    const waitEvents = this.events?.waitFor(n) ?? 0;
    if (waitEvents > 0) throw new QuotaExceededError('appendEventsPerSecond', this.events!.rate, waitEvents);
    const waitBytes = this.bytes?.waitFor(size) ?? 0;
    if (waitBytes > 0) throw new QuotaExceededError('appendBytesPerSecond', this.bytes!.rate, waitBytes);
    this.events?.tryTake(n);
    this.bytes?.tryTake(size);
    return events;
  }
}
