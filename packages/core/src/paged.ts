/**
 * Async iteration over pages of a store read, with one resolved promise per item instead of an
 * async generator's machinery (reads and catch-up are the hot path: docs/design/0003).
 *
 * @module
 */

/** A source of pages: `next()` gives the next page (empty or undefined at the end). */
export interface PageSource<T> {
  next(): Promise<readonly T[] | undefined>;
  close(): Promise<void>;
}

class PagedIterator<T> implements AsyncIterableIterator<T> {
  private page: readonly T[] = [];
  private index = 0;
  private source: PageSource<T> | undefined;
  private finished = false;

  constructor(
    private readonly open: () => Promise<PageSource<T> | undefined>,
    private readonly stopped: () => boolean,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.stopped()) return this.end();
    if (this.index < this.page.length) return Promise.resolve({ value: this.page[this.index++]!, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return this.fill();
  }

  private async fill(): Promise<IteratorResult<T>> {
    try {
      if (this.source === undefined) {
        this.source = await this.open();
        if (this.source === undefined) return await this.end();
      }
      for (;;) {
        const page = await this.source.next();
        if (page === undefined || page.length === 0) {
          if (page === undefined) return await this.end();
          continue;
        }
        this.page = page;
        this.index = 1;
        return { value: page[0]!, done: false };
      }
    } catch (error) {
      await this.end();
      throw error;
    }
  }

  private async end(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.page = [];
    const s = this.source;
    this.source = undefined;
    await s?.close();
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<T>> {
    return this.end();
  }
}

/** The part of an abstract-level iterator that {@link readAhead} drives. */
export interface BatchIterator<T> {
  nextv(size: number): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Pages of a store iterator with one page of read-ahead: as soon as a page arrives, the next
 * `nextv` is started, so the store's thread-pool read of page n+1 overlaps the caller decoding
 * page n (without it the main thread idled about a third of a catch-up read). Pages grow from
 * `first` to `max` items; at most `budget` items are read in all.
 */
export function readAhead<T>(it: BatchIterator<T>, first: number, max: number, budget: number): PageSource<T> {
  let size = first;
  // Counts what arrived, not what was asked: a store may return fewer items than asked for (LevelDB
  // caps a nextv by bytes), and the one outstanding request is always issued after the last page.
  let received = 0;
  let pending: Promise<T[]> | undefined;
  const request = (): Promise<T[]> | undefined => {
    const n = Math.min(size, budget - received);
    if (n <= 0) return undefined;
    size = Math.min(size * 2, max);
    const p = it.nextv(n);
    // A read-ahead nobody awaits (the reader stopped early) must not surface as unhandled.
    p.catch(() => {});
    return p;
  };
  let done = false;
  return {
    async next() {
      if (done) return undefined;
      const current = pending ?? request();
      pending = undefined;
      if (current === undefined) return undefined;
      const page = await current;
      if (page.length === 0) {
        done = true;
        return undefined;
      }
      received += page.length;
      pending = request();
      return page;
    },
    async close() {
      done = true;
      const p = pending;
      pending = undefined;
      if (p !== undefined) await p.catch(() => {});
      await it.close();
    },
  };
}

/**
 * An async iterable over the items of successive pages. `open` runs on the first `next()` (and
 * may return undefined for "nothing to read"); the source is closed at the end, on `break`, on
 * errors, and as soon as `stopped()` turns true (even mid-page).
 */
export function paged<T>(open: () => Promise<PageSource<T> | undefined>, stopped: () => boolean = () => false): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => new PagedIterator(open, stopped) };
}
