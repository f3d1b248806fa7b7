/**
 * The backoff between retries, shared by the repository, the unit of work and
 * `@strand/workflow`'s runner: the delay doubles per attempt from `backoffMs`, is capped at
 * `maxBackoffMs`, and is jittered into [half, whole] so racing writers spread out.
 *
 * @module
 */
import { InvalidArgumentError } from '@strand/core';

/** How retries wait: a doubling, capped, jittered backoff. Every field has a default per user. */
export interface RetryOptions {
  /** First backoff in ms; doubles per attempt, jittered, capped at `maxBackoffMs`. */
  backoffMs?: number;
  /** Backoff cap in ms. */
  maxBackoffMs?: number;
  /** Randomness for the backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Waits between attempts (default a timer); injectable so tests run without real time. */
  sleep?: (ms: number) => Promise<void>;
}

/** {@link RetryOptions} with every default filled in. */
export type Backoff = Required<RetryOptions>;

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Checks `options`' retry fields (integers >= 0, functions) and fills in the defaults. Throws
 * `STRAND_INVALID_ARGUMENT` naming the field that is wrong.
 */
export function resolveBackoff(options: RetryOptions, defaults: { backoffMs: number; maxBackoffMs: number }): Backoff {
  for (const k of ['backoffMs', 'maxBackoffMs'] as const) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new InvalidArgumentError(`${k} must be an integer >= 0.`);
  }
  for (const k of ['random', 'sleep'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') throw new InvalidArgumentError(`${k} must be a function.`);
  }
  return {
    backoffMs: options.backoffMs ?? defaults.backoffMs,
    maxBackoffMs: options.maxBackoffMs ?? defaults.maxBackoffMs,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? timerSleep,
  };
}

/** The delay before retry number `attempt` (0 for the first retry), in ms. */
export function backoffDelay(attempt: number, backoff: Backoff): number {
  const cap = Math.min(backoff.maxBackoffMs, backoff.backoffMs * 2 ** attempt);
  return cap * (0.5 + backoff.random() / 2);
}

/** Waits {@link backoffDelay} before retry number `attempt` (0 for the first retry). */
export function backOff(attempt: number, backoff: Backoff): Promise<void> {
  return backoff.sleep(backoffDelay(attempt, backoff));
}
