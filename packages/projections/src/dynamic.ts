/**
 * A subscription whose patterns change at run time: add a pattern (from the position you ask
 * for) or remove one, without restarting anything.
 *
 * @module
 */
import { compilePattern, type EventStore, InvalidArgumentError, type RecordedEvent } from '@strand/core';
import { type Observable, Subject, type Subscription } from 'rxjs';

/**
 * Merges live pattern subscriptions into one observable. Each pattern is delivered in global
 * order from its own start position; an event matching several active patterns is delivered
 * once per pattern (the `pattern` field says which).
 */
export class DynamicSubscription {
  private readonly subject = new Subject<RecordedEvent & { pattern: string }>();
  private readonly active = new Map<string, Subscription>();

  /** Every event of every active pattern. */
  readonly events$: Observable<RecordedEvent & { pattern: string }> = this.subject.asObservable();

  constructor(private readonly log: EventStore) {
    if (log === null || typeof log !== 'object' || typeof log.subscribe !== 'function') throw new InvalidArgumentError('DynamicSubscription needs an open EventStore.');
  }

  /** Adds a pattern, from a position (default: only new events). Adding an active pattern is a no-op. */
  add(pattern: string, options: { from?: number | 'end' } = {}): void {
    compilePattern(pattern);
    if (this.active.has(pattern)) return;
    const sub = this.log.subscribe(pattern, { from: options.from ?? 'end' }).subscribe({
      next: (e) => this.subject.next({ ...e, pattern }),
      error: (error: unknown) => this.subject.error(error),
    });
    this.active.set(pattern, sub);
  }

  /** Removes a pattern; its events stop at once. */
  remove(pattern: string): boolean {
    const sub = this.active.get(pattern);
    if (sub === undefined) return false;
    sub.unsubscribe();
    this.active.delete(pattern);
    return true;
  }

  /** The active patterns. */
  patterns(): string[] {
    return [...this.active.keys()];
  }

  /** Removes every pattern and completes `events$`. */
  close(): void {
    for (const sub of this.active.values()) sub.unsubscribe();
    this.active.clear();
    this.subject.complete();
  }
}
