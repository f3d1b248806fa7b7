/**
 * Measuring a follower's staleness bound in the same run as its staleness (the follower test in
 * another process and the `s3-faults` bench): an object-store decorator that records how long
 * each request took, and the bound of docs/design/0005-s3-engine.md, "Followers", computed from
 * it.
 *
 * @module
 */
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from '../object-store/types.js';

/** Milliseconds each finished request took, by kind (failed ones included). */
export interface RequestLatencies {
  get: number[];
  put: number[];
  list: number[];
  delete: number[];
}

/** Passes every request through to `inner` and records its latency (wall clock, `performance.now()`). */
export class LatencyRecordingStore implements ObjectStore {
  /** Latencies so far; clear the arrays to start a new sample. */
  readonly latencies: RequestLatencies = { get: [], put: [], list: [], delete: [] };

  constructor(private readonly inner: ObjectStore) {}

  private async timed<T>(into: number[], request: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await request();
    } finally {
      into.push(performance.now() - t0);
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.timed(this.latencies.get, () => this.inner.get(key));
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    return this.timed(this.latencies.get, () => this.inner.getRange(key, start, end));
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    return this.timed(this.latencies.put, () => this.inner.put(key, body, options));
  }

  delete(key: string): Promise<void> {
    return this.timed(this.latencies.delete, () => this.inner.delete(key));
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return this.timed(this.latencies.list, () => this.inner.list(prefix, options));
  }

  serverTime(): number | undefined {
    return this.inner.serverTime?.();
  }
}

/** What a follower's staleness bound is made of, in ms. */
export interface StalenessTerms {
  /** The follower's `pollIntervalMs`. */
  pollIntervalMs: number;
  /** How long one of the follower's requests (a GET of a WAL slot, a LIST of manifests) takes. */
  requestMs: number;
  /** How late the follower's process runs what is due (event-loop delay). */
  delayMs: number;
}

/**
 * The most time between a WAL object being stored and a follower's event log delivering it
 * (docs/design/0005, "Followers"): `max(poll interval, request) + request + 2 x delay`. A poll
 * whose GET of the slot went out just before the object was stored ends at most one request
 * later; the next poll starts one interval after the last one started, or at once if that one
 * took longer, and its timer may fire late; its GET finds the object one request later; the
 * follower's event loop then delivers it, possibly late again.
 */
export function followerStalenessBound(t: StalenessTerms): number {
  return Math.max(t.pollIntervalMs, t.requestMs) + t.requestMs + 2 * t.delayMs;
}
