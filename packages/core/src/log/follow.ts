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
import { toJsonText } from '../record/event.js';
import type { JsonTextEvent, RecordedEvent, SubscribeOptions } from '../types.js';
import { assertCount } from '../validate.js';
import { intercept, type LogContext } from './context.js';
import type { LogReads, RecordRange } from './reads.js';

/**
 * How a follower gets its events: from the ring (`undefined` when its stream does not match or a
 * read interceptor drops it) and from the store.
 */
interface EventSource<T> {
  live(position: number, matches: (s: string) => boolean): T | undefined;
  stored(range: RecordRange, span: number, matches: (s: string) => boolean): PageSource<T>;
}

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

  private readonly decoded: EventSource<RecordedEvent> = {
    live: (position, matches) => {
      const raw = this.ctx.ring.event(position, this.ctx.codec);
      return matches(raw.stream) ? intercept(this.ctx.readInterceptors, raw) : undefined;
    },
    stored: (range, span, matches) => this.reads.eventPages(range, Number.POSITIVE_INFINITY, span, matches),
  };

  private readonly jsonText: EventSource<JsonTextEvent> = {
    live: (position, matches) => {
      const { ctx } = this;
      if (ctx.readInterceptors.length === 0) {
        const e = ctx.ring.jsonEvent(position, ctx.codec);
        return matches(e.stream) ? e : undefined;
      }
      const raw = ctx.ring.event(position, ctx.codec);
      const e = matches(raw.stream) ? intercept(ctx.readInterceptors, raw) : undefined;
      return e === undefined ? undefined : toJsonText(e);
    },
    stored: (range, span, matches) => this.reads.jsonEventPages(range, Number.POSITIVE_INFINITY, span, matches),
  };

  /** See {@link EventLog.follow}. */
  follow(pattern: string, options: SubscribeOptions): AsyncIterable<RecordedEvent> {
    return this.followWith(pattern, options, this.decoded);
  }

  /** See {@link EventLog.followJson}. */
  followJson(pattern: string, options: SubscribeOptions): AsyncIterable<JsonTextEvent> {
    return this.followWith(pattern, options, this.jsonText);
  }

  private followWith<T extends { readonly stream: string }>(pattern: string, options: SubscribeOptions, events: EventSource<T>): AsyncIterable<T> {
    const match = compilePattern(pattern);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('follow options must be an object.');
    if (options.from !== 'end') assertCount('from', options.from, { min: 0 });
    const from = options.from === 'end' ? this.ctx.position() + 1 : Math.max(options.from ?? 1, 1);
    return this.followFrom(match.matches, from, options.signal, events);
  }

  private followFrom<T extends { readonly stream: string }>(matches: (s: string) => boolean, from: number, signal: AbortSignal | undefined, events: EventSource<T>): AsyncIterable<T> {
    const { ctx } = this;
    let next = from;
    let store: PageSource<T> | undefined;
    let storeEnd = 0;
    const stopped = () => ctx.isClosed() || signal?.aborted === true;
    const source: PageSource<T> = {
      next: async () => {
        if (stopped()) return undefined;
        if (next > ctx.position()) {
          await this.nextCommit(signal);
          return [];
        }
        const upTo = ctx.position();
        if (store === undefined && ctx.ring.has(next)) {
          // Live: recent events come decoded from the shared ring, no store read.
          const out: T[] = [];
          while (next <= upTo && ctx.ring.has(next)) {
            const e = events.live(next, matches);
            next++;
            if (e !== undefined) out.push(e);
          }
          return out;
        }
        // Behind the ring: read the store up to the head as it is now, to the end of that range
        // (truncated history leaves holes in global order), then look at the ring again.
        if (store === undefined) {
          storeEnd = upTo;
          store = events.stored({ gte: globalKey(next), lte: globalKey(upTo) }, upTo - next + 1, matches);
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
