/**
 * One adapter from an async iterable to an RxJS `Observable`, used by `EventLog.subscribe` and
 * `@strand/client`'s `subscribe` (and by anything else that offers `follow` as an iterable).
 *
 * @module
 */
import { Observable } from 'rxjs';

/** Options of {@link observeIterator}. */
export interface ObserveIteratorOptions {
  /** Ends every subscription (with `complete`) when it aborts, e.g. the caller's `signal`. */
  signal?: AbortSignal;
  /**
   * Called when a subscription stops early: unsubscribed, or `signal` aborted. Use it to wake or
   * abort what the iterator is waiting on, so it returns at once.
   */
  onStop?: () => void;
}

/**
 * An `Observable` of the values of `iterable`: each subscription takes its own iterator and emits
 * its values in order, completes when it ends (or `signal` aborts), and errors when it throws.
 * Unsubscribing stops delivery at once, calls `onStop` and returns the iterator.
 *
 * @example
 * ```ts
 * const events$ = observeIterator(log.follow('orders/>'), { signal });
 * ```
 */
export function observeIterator<T>(iterable: AsyncIterable<T>, options: ObserveIteratorOptions = {}): Observable<T> {
  const { signal: outer, onStop } = options;
  return new Observable<T>((subscriber) => {
    const abort = new AbortController();
    const stop = () => {
      if (abort.signal.aborted) return;
      abort.abort();
      onStop?.();
    };
    outer?.addEventListener('abort', stop, { once: true });
    const iterator = iterable[Symbol.asyncIterator]();
    (async () => {
      try {
        for (;;) {
          if (abort.signal.aborted || outer?.aborted) break;
          const r = await iterator.next();
          if (r.done || abort.signal.aborted) break;
          subscriber.next(r.value);
        }
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    })();
    return () => {
      outer?.removeEventListener('abort', stop);
      stop();
      void iterator.return?.(undefined);
    };
  });
}
