/**
 * The repository's folded-state cache: a bounded LRU of states per stream, each valid for the
 * stream version it folds up to (docs/design/0010-cpu-per-event.md, "Aggregates").
 *
 * @module
 */

/** A bounded LRU of folded states, each with the stream version it folds up to. */
export class StateCache<T> {
  private readonly map = new Map<string, { state: T; version: number }>();

  constructor(private readonly capacity: number) {}

  get enabled(): boolean {
    return this.capacity > 0;
  }

  get(stream: string): { state: T; version: number } | undefined {
    const v = this.map.get(stream);
    if (v === undefined) return undefined;
    this.map.delete(stream);
    this.map.set(stream, v);
    return v;
  }

  set(stream: string, state: T, version: number): void {
    if (this.capacity <= 0) return;
    const current = this.map.get(stream);
    // Never step back: a slower load must not replace a newer fold.
    if (current !== undefined && current.version > version) return;
    this.map.delete(stream);
    this.map.set(stream, { state, version });
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  delete(stream: string): void {
    this.map.delete(stream);
  }
}
