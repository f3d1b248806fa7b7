/**
 * Following the log: catch-up from the store, then live events from the shared ring, with no gap
 * or duplicate at the switch (docs/design/0003-subscriptions.md); the RxJS `subscribe` on top,
 * and waiting for a position (read-your-writes).
 *
 * @module
 */
import type { Observable } from 'rxjs';
import { InvalidArgumentError, TimeoutError } from '../errors.js';
import { globalKey } from '../keys.js';
import { observeIterator } from '../observe.js';
import { compilePattern } from '../names.js';
import { type PageSource, paged } from '../paged.js';
import type { RecordedEvent, SubscribeOptions } from '../types.js';
import { assertCount } from '../validate.js';
import { intercept, type LogContext } from './context.js';
import type { LogReads } from './reads.js';

/** Followers of one log and the commit signal that wakes them. */
export class Followers {
  private commitWaiters: Array<() => void> = [];

  constructor(
    private readonly ctx: LogContext,
    private readonly reads: LogReads,
  ) {}

  /** Wakes everything waiting for the next commit (a commit happened, or the log closed). */
  wake(): void {
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    for (const w of waiters) w();
  }

  /** See {@link EventLog.follow}. */
  follow(pattern: string, options: SubscribeOptions): AsyncIterable<RecordedEvent> {
    const match = compilePattern(pattern);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('follow options must be an object.');
    if (options.from !== 'end') assertCount('from', options.from, { min: 0 });
    const from = options.from === 'end' ? this.ctx.position() + 1 : Math.max(options.from ?? 1, 1);
    return this.followFrom(match.matches, from, options.signal);
  }

  private followFrom(matches: (s: string) => boolean, from: number, signal: AbortSignal | undefined): AsyncIterable<RecordedEvent> {
    const { ctx } = this;
    let next = from;
    let store: PageSource<RecordedEvent> | undefined;
    let storeEnd = 0;
    const stopped = () => ctx.isClosed() || signal?.aborted === true;
    const source: PageSource<RecordedEvent> = {
      next: async () => {
        if (stopped()) return undefined;
        if (next > ctx.position()) {
          await this.nextCommit(signal);
          return [];
        }
        const upTo = ctx.position();
        if (store === undefined && ctx.ring.has(next)) {
          // Live: recent events come decoded from the shared ring, no store read.
          const out: RecordedEvent[] = [];
          while (next <= upTo && ctx.ring.has(next)) {
            const raw = ctx.ring.event(next, ctx.codec);
            next++;
            if (!matches(raw.stream)) continue;
            const e = intercept(ctx.readInterceptors, raw);
            if (e !== undefined) out.push(e);
          }
          return out;
        }
        // Behind the ring: read the store up to the head as it is now, to the end of that range
        // (truncated history leaves holes in global order), then look at the ring again.
        if (store === undefined) {
          storeEnd = upTo;
          store = this.reads.eventPages({ gte: globalKey(next), lte: globalKey(upTo) }, Number.POSITIVE_INFINITY, upTo - next + 1, matches);
        }
        const page = await store.next();
        if (page !== undefined) return page;
        const s = store;
        store = undefined;
        next = storeEnd + 1;
        await s.close();
        return [];
      },
      close: async () => {
        const s = store;
        store = undefined;
        await s?.close();
      },
    };
    return paged(async () => source, stopped);
  }

  private nextCommit(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      if (this.ctx.isClosed() || signal?.aborted) return resolve();
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.commitWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** See {@link EventLog.subscribe}. */
  subscribe(pattern: string, options: SubscribeOptions): Observable<RecordedEvent> {
    // Stopping wakes the follower if it is waiting for a commit.
    return observeIterator(this.follow(pattern, options), { signal: options.signal, onStop: () => this.wake() });
  }

  /**
   * See {@link EventLog.waitForPosition}. One timer bounds the whole wait (no wall clock read:
   * the log reads time only through its injected clock).
   */
  async waitForPosition(position: number, timeoutMs: number, assertOpen: () => void): Promise<void> {
    assertCount('position', position, { min: 0, optional: false });
    assertCount('timeoutMs', timeoutMs, { min: 0, optional: false });
    if (this.ctx.position() >= position) return;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      while (this.ctx.position() < position) {
        assertOpen();
        if (abort.signal.aborted) throw new TimeoutError(`position ${position} (log at ${this.ctx.position()})`, timeoutMs, { position });
        await this.nextCommit(abort.signal);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
