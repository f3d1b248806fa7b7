/**
 * Errors store-s3 throws on purpose. Each has a stable `code` and a coarse `kind` like core's
 * `StrandError`; they live in this file alone so they can be re-based on `StrandError` later.
 *
 * @module
 */

/** What a caller should do about an error (mirrors core's `ErrorKind`). */
export type S3ErrorKind = 'conflict' | 'invalid' | 'closed' | 'unavailable' | 'data' | 'internal';

/**
 * This writer was fenced: another writer opened the same store with a higher epoch. Every later
 * write of this instance fails with this error; open a new instance to write again.
 */
export class FencedError extends Error {
  /** Stable identifier. */
  readonly code = 'STRAND_FENCED' as const;
  /** Fenced resources stay closed: open a new one. */
  readonly kind = 'closed' as const;
  /** Machine-readable facts: this writer's epoch and the epoch that fenced it, when known. */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FencedError';
    this.details = details;
  }
}

/**
 * A manifest about to be written breaks an invariant (a bug, never a user error). Nothing was
 * written: the store is unchanged.
 */
export class ManifestInvariantError extends Error {
  /** Stable identifier. */
  readonly code = 'STRAND_S3_MANIFEST_INVARIANT' as const;
  /** A bug in store-s3. */
  readonly kind = 'internal' as const;

  constructor(message: string) {
    super(`Manifest invariant violated: ${message}`);
    this.name = 'ManifestInvariantError';
  }
}

/**
 * Stored data failed a checksum or could not be decoded. `code` is abstract-level's
 * `LEVEL_CORRUPTION` so level tooling recognises it.
 */
export class CorruptionError extends Error {
  /** Stable identifier shared with abstract-level. */
  readonly code = 'LEVEL_CORRUPTION' as const;
  /** Retrying will not help. */
  readonly kind = 'data' as const;

  constructor(message: string) {
    super(message);
    this.name = 'CorruptionError';
  }
}

/**
 * The writer gave up on the object store after its retries (or a write outcome stayed unknown).
 * The instance refuses further writes; reopen it, which replays what was stored.
 */
export class StoreUnavailableError extends Error {
  /** Stable identifier. */
  readonly code = 'STRAND_S3_UNAVAILABLE' as const;
  /** Transient: reopen and retry later. */
  readonly kind = 'unavailable' as const;

  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'StoreUnavailableError';
  }
}
