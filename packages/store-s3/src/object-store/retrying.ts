/**
 * Retries with full-jitter exponential backoff (the engine's one policy, `backoff.ts`), and
 * resolves "outcome unknown" conditional PUTs.
 *
 * @module
 */
import { retry } from '../backoff.js';
import type { RetryContext } from '../backoff.js';
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
  /**
   * Keep retrying a failing call for at least this long, ms, even past `maxAttempts` (default
   * 30,000): an object store that restarts within the window (connections refused meanwhile)
   * costs a wait, not a failed writer and a reopen.
   */
  windowMs?: number;
}

function isRetryable(err: unknown): boolean {
  return err instanceof ObjectStoreError && err.retryable;
}

/**
 * Retries retryable {@link ObjectStoreError}s (throttling, 5xx, timeouts, refused connections).
 * Every object name the engine writes is used once, so a retried PUT is idempotent. A create-only
 * PUT whose earlier attempt may have been applied and that then meets 412 reads the object back:
 * the same bytes mean the earlier attempt won, so the PUT succeeded.
 */
export class RetryingObjectStore implements ObjectStore {
  private readonly ctx: RetryContext;

  constructor(
    private readonly inner: ObjectStore,
    clock: Clock,
    random: Random,
    options: RetryOptions = {},
  ) {
    this.ctx = {
      clock,
      random,
      policy: { baseDelayMs: options.baseDelayMs ?? 20, maxDelayMs: options.maxDelayMs ?? 2000, jitter: true },
      maxAttempts: options.maxAttempts ?? 8,
      windowMs: options.windowMs ?? 30_000,
      retryable: isRetryable,
    };
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return retry(() => this.inner.get(key), this.ctx);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined> {
    return retry(() => this.inner.getRange(key, start, end), this.ctx);
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    let maybeApplied = false;
    try {
      return await retry(() => this.inner.put(key, body, options), {
        ...this.ctx,
        onRetry: (err) => {
          const e = err as ObjectStoreError;
          if (e.outcomeUnknown || e.status === undefined || e.status >= 500) maybeApplied = true;
        },
      });
    } catch (err) {
      if (err instanceof PreconditionFailedError && maybeApplied && options.ifNoneMatch === '*') {
        const stored = await this.get(key);
        if (stored && equalBytes(stored, body)) return { etag: '' };
      }
      throw err;
    }
  }

  delete(key: string): Promise<void> {
    return retry(() => this.inner.delete(key), this.ctx);
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return retry(() => this.inner.list(prefix, options), this.ctx);
  }

  serverTime(): number | undefined {
    return this.inner.serverTime?.();
  }
}
