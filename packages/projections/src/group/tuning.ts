/**
 * A consumer group's tuning: its limits and timeouts, their defaults, and the check of the values
 * a caller passes to `ConsumerGroup.open`. Design: docs/design/0011-consumer-groups.md.
 *
 * @module
 */
import { InvalidArgumentError } from '@strand/core';

/** Tuning of a consumer group. */
export interface GroupTuning {
  /** Failed attempts (nacks, or deliveries lost with their member) before a stream parks (default 5). */
  maxAttempts: number;
  /** First retry delay in ms, doubling per attempt (default 100). */
  backoffMs: number;
  /** Longest retry delay in ms (default 30,000). */
  maxBackoffMs: number;
  /** A member that has not been heard from for this long loses its leases (default 10,000 ms). */
  sessionTimeoutMs: number;
  /** Events of one stream in one delivery, in order (default 1). */
  maxBatch: number;
  /** Events buffered in memory per stream (default 16); the rest are read from the log when due. */
  prefetch: number;
  /** Streams with pending work tracked at once (default 10,000): bounds memory and the checkpoint. */
  maxActiveStreams: number;
}

/** The default tuning. */
export const defaultTuning: GroupTuning = {
  maxAttempts: 5,
  backoffMs: 100,
  maxBackoffMs: 30_000,
  sessionTimeoutMs: 10_000,
  maxBatch: 1,
  prefetch: 16,
  maxActiveStreams: 10_000,
};

/**
 * The tuning of a group from its options: each value given must be a safe integer, at least 0 for
 * the backoffs and at least 1 for the rest (`InvalidArgumentError` otherwise); the defaults fill in.
 */
export function tuningFrom(options: Partial<GroupTuning>): GroupTuning {
  const tuning: GroupTuning = { ...defaultTuning };
  for (const k of Object.keys(defaultTuning) as Array<keyof GroupTuning>) {
    const v = options[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (k === 'backoffMs' || k === 'maxBackoffMs' ? 0 : 1)) throw new InvalidArgumentError(`${k} must be an integer >= ${k === 'backoffMs' || k === 'maxBackoffMs' ? 0 : 1}.`);
    tuning[k] = v;
  }
  return tuning;
}
