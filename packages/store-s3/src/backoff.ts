/**
 * The one retry/backoff policy of the S3 engine: full-jitter exponential backoff on the injected
 * clock and random (docs/design/0005, "Failure handling"). Used by the retrying object store and
 * by the background tasks (memtable flush, compaction, follower polls).
 *
 * @module
 */
import type { Clock, Random } from './clock.js';

/** How long to wait between attempts. */
export interface BackoffPolicy {
  /** Ceiling of the first wait, ms. */
  baseDelayMs: number;
  /** Largest ceiling, ms. */
  maxDelayMs: number;
  /** `true`: wait a uniformly random time up to the ceiling (full jitter); `false`: the ceiling. */
  jitter: boolean;
}

/**
 * The wait before retry number `attempt` (1 = the first retry): `min(max, base * 2^(attempt-1))`,
 * drawn uniformly from `[1, ceiling]` with jitter.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return policy.jitter ? Math.floor(random() * ceiling) + 1 : ceiling;
}

/** What {@link retry} needs besides the operation. */
export interface RetryContext {
  clock: Clock;
  random: Random;
  policy: BackoffPolicy;
  /** Attempts, the first included. */
  maxAttempts: number;
  /**
   * Keep retrying for at least this long (ms since the first attempt), even past `maxAttempts`:
   * a store that restarts within the window costs a wait, not a failure.
   */
  windowMs?: number;
  /** Whether an error is worth another attempt. */
  retryable: (err: unknown) => boolean;
  /** Called before each wait (e.g. to note that a write may have been applied). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Runs `fn` until it succeeds, an error is not retryable, or attempts and window are used up. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, ctx: RetryContext): Promise<T> {
  const started = ctx.clock.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!ctx.retryable(err)) throw err;
      const withinWindow = ctx.windowMs !== undefined && ctx.clock.now() - started < ctx.windowMs;
      if (attempt >= ctx.maxAttempts && !withinWindow) throw err;
      ctx.onRetry?.(err, attempt);
      await ctx.clock.sleep(backoffDelay(attempt, ctx.policy, ctx.random));
    }
  }
}
