/**
 * Request counters, exposed on `S3Level.requests` for the benchmark and cost estimates.
 *
 * @module
 */
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';

/** Requests issued, by kind. A LIST call counts once however many pages it reads. */
export interface RequestCounts {
  /** GETs, ranged or not. */
  get: number;
  /** PUTs, conditional or not. */
  put: number;
  /** LIST calls. */
  list: number;
  /** DELETEs. */
  delete: number;
}

/** Counts every call that reaches the wrapped store (so retries count too). */
export class CountingObjectStore implements ObjectStore {
  /** Live counters; read them, or reset them with {@link CountingObjectStore.reset}. */
  readonly counts: RequestCounts = { get: 0, put: 0, list: 0, delete: 0 };

  constructor(private readonly inner: ObjectStore) {}

  /** Sets every counter back to zero. */
  reset(): void {
    this.counts.get = this.counts.put = this.counts.list = this.counts.delete = 0;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    this.counts.get++;
    return this.inner.get(key);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    this.counts.get++;
    return this.inner.getRange(key, start, end);
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    this.counts.put++;
    return this.inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    this.counts.delete++;
    return this.inner.delete(key);
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    this.counts.list++;
    return this.inner.list(prefix, options);
  }

  serverTime(): number | undefined {
    return this.inner.serverTime?.();
  }
}
