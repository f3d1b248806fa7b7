import { describe, expect, it } from 'vitest';
import { observeIterator } from './observe.js';

/** An iterable that yields `values`, then waits for `release` (never, unless called), recording what happened. */
function source<T>(values: T[], fail?: Error) {
  const log: string[] = [];
  let release: () => void = () => {};
  const parked = new Promise<void>((resolve) => {
    release = resolve;
  });
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        async next(): Promise<IteratorResult<T>> {
          if (i < values.length) return { done: false, value: values[i++]! };
          if (fail) throw fail;
          log.push('waiting');
          await parked;
          return { done: true, value: undefined };
        },
        async return(): Promise<IteratorResult<T>> {
          log.push('return');
          release();
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, log, release: () => release() };
}

/** Subscribes and collects until the observable ends, or returns what it has when `until` resolves. */
function collect<T>(o: ReturnType<typeof observeIterator<T>>) {
  const seen: T[] = [];
  let ended: string | undefined;
  let unsubscribe = () => {};
  const ending = new Promise<void>((resolve) => {
    const sub = o.subscribe({
      next: (v) => seen.push(v),
      complete: () => {
        ended = 'complete';
        resolve();
      },
      error: (e: Error) => {
        ended = `error: ${e.message}`;
        resolve();
      },
    });
    unsubscribe = () => sub.unsubscribe();
  });
  return { seen, ending, ended: () => ended, unsubscribe: () => unsubscribe() };
}

describe('observeIterator', () => {
  it('emits the values in order and completes when the iterable ends', async () => {
    const s = source([1, 2, 3]);
    const c = collect(observeIterator(s.iterable));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(c.seen).toEqual([1, 2, 3]);
    s.release();
    await c.ending;
    expect(c.ended()).toBe('complete');
  });

  it('errors with what the iterator throws', async () => {
    const c = collect(observeIterator(source(['a'], new Error('boom')).iterable));
    await c.ending;
    expect([c.seen, c.ended()]).toEqual([['a'], 'error: boom']);
  });

  it('unsubscribing calls onStop once and returns the iterator', async () => {
    const s = source([1]);
    let stops = 0;
    const c = collect(observeIterator(s.iterable, { onStop: () => stops++ }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(s.log).toEqual(['waiting']);
    c.unsubscribe();
    expect([stops, s.log]).toEqual([1, ['waiting', 'return']]);
  });

  it('the signal completes every subscription (and one already aborted delivers nothing)', async () => {
    const abort = new AbortController();
    const s = source([1, 2]);
    let stops = 0;
    const o = observeIterator(s.iterable, { signal: abort.signal, onStop: () => stops++ });
    const c = collect(o);
    await new Promise<void>((resolve) => setImmediate(resolve));
    abort.abort();
    expect(stops).toBe(1);
    s.release();
    await c.ending;
    expect([c.seen, c.ended()]).toEqual([[1, 2], 'complete']);
    const late = collect(o);
    await late.ending;
    expect([late.seen, late.ended()]).toEqual([[], 'complete']);
  });
});
