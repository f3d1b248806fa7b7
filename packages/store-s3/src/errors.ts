/**
 * Errors store-s3 throws on purpose: `StrandError`s like core's, each with a stable `code` and a
 * `kind` that says what to do, so `isStrandError(err, 'STRAND_FENCED')` works across packages.
 *
 * @module
 */
import { StrandError } from '@strand/core';

/** What a caller should do about an error (the subset of core's `ErrorKind` store-s3 uses). */
export type S3ErrorKind = 'conflict' | 'invalid' | 'closed' | 'unavailable' | 'data' | 'internal';

/**
 * This writer was fenced: another writer opened the same store with a higher epoch. Every later
 * write of this instance fails with this error; open a new instance to write again.
 */
export class FencedError extends StrandError {
  declare readonly code: 'STRAND_FENCED';

  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('STRAND_FENCED', 'closed', message, { details, ...(cause === undefined ? {} : { cause }) });
  }
}

/**
 * A manifest about to be written breaks an invariant (a bug, never a user error). Nothing was
 * written: the store is unchanged.
 */
export class ManifestInvariantError extends StrandError {
  declare readonly code: 'STRAND_S3_MANIFEST_INVARIANT';

  constructor(message: string) {
    super('STRAND_S3_MANIFEST_INVARIANT', 'internal', `Manifest invariant violated: ${message}`);
  }
}

/**
 * Stored data failed a checksum or could not be decoded. `code` is abstract-level's
 * `LEVEL_CORRUPTION` so level tooling recognises it.
 */
export class CorruptionError extends StrandError {
  declare readonly code: 'LEVEL_CORRUPTION';

  constructor(message: string) {
    super('LEVEL_CORRUPTION', 'data', message);
  }
}

/**
 * The writer gave up on the object store after its retries (or a write outcome stayed unknown).
 * The instance refuses further writes; reopen it, which replays what was stored.
 */
export class StoreUnavailableError extends StrandError {
  declare readonly code: 'STRAND_S3_UNAVAILABLE';

  constructor(message: string, cause?: unknown) {
    super('STRAND_S3_UNAVAILABLE', 'unavailable', message, cause === undefined ? {} : { cause });
  }
}
