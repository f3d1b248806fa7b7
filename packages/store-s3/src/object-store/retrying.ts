/**
 * Retries with full-jitter exponential backoff, and resolves "outcome unknown" conditional PUTs.
 *
 * @module
 */
import { equalBytes } from '../bytes.js';
import type { Clock, Random } from '../clock.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './types.js';
import { ObjectStoreError, PreconditionFailedError } from './types.js';

/** Backoff settings. */
export interface RetryOptions {
  /** Attempts per call, the first included (default 8). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 20). */
  baseDelayMs?: number;
  /** Backoff ceiling in ms (default 2,000). */
  maxDelayMs?: number;
}

/**
 * Retries retryable {@link ObjectStoreError}s (throttling, 5xx, timeouts). Every object name the
 * engine writes is used once, so a retried PUT is idempotent. A create-only PUT whose earlier
 * attempt may have been applied and that then meets 412 reads the object back: the same bytes
 * mean the earlier attempt won, so the PUT succeeded.
 */
export class RetryingObjectStore implements ObjectStore {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly inner: ObjectStore,
    private readonly clock: Clock,
    private readonly random: Random,
    options: RetryOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 20;
    this.maxDelayMs = options.maxDelayMs ?? 2000;
  }

  private async attempt<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ObjectStoreError) || !err.retryable || attempt >= this.maxAttempts) throw err;
        const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await this.clock.sleep(Math.floor(this.random() * ceiling) + 1);
      }
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.attempt(() => this.inner.get(key));
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    return this.attempt(() => this.inner.getRange(key, start, end));
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    let maybeApplied = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inner.put(key, body, options);
      } catch (err) {
        if (err instanceof PreconditionFailedError && maybeApplied && options.ifNoneMatch === '*') {
          const stored = await this.get(key);
          if (stored && equalBytes(stored, body)) return { etag: '' };
          throw err;
        }
        if (!(err instanceof ObjectStoreError) || !err.retryable || attempt >= this.maxAttempts) throw err;
        if (err.outcomeUnknown || (err.status !== undefined && err.status >= 500) || err.status === undefined) {
          maybeApplied = true;
        }
        const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await this.clock.sleep(Math.floor(this.random() * ceiling) + 1);
      }
    }
  }

  delete(key: string): Promise<void> {
    return this.attempt(() => this.inner.delete(key));
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return this.attempt(() => this.inner.list(prefix, options));
  }
}
