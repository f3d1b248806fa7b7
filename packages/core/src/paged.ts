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

/**
 * An async iterable over the items of successive pages. `open` runs on the first `next()` (and
 * may return undefined for "nothing to read"); the source is closed at the end, on `break`, on
 * errors, and as soon as `stopped()` turns true (even mid-page).
 */
export function paged<T>(open: () => Promise<PageSource<T> | undefined>, stopped: () => boolean = () => false): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => new PagedIterator(open, stopped) };
}
