/**
 * Errors store-s3 throws on purpose: `StrandError`s like core's, each with a stable `code` and a
 * `kind` that says what to do, so `isStrandError(err, 'STRAND_FENCED')` works across packages.
 * Stored data that fails a checksum or does not decode throws core's `CorruptionError`
 * (`STRAND_CORRUPTION`), as the LevelDB-backed log does.
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
 * A write (put, del, batch, flush, compaction or GC) on a read-only `S3Level`, a follower opened
 * with `readOnly: true` (or `?readOnly=true` in an `s3://` URL). `code` is `LEVEL_READONLY`, the
 * Level ecosystem's code for it, so level tooling recognises it; retrying fails the same way.
 */
export class ReadOnlyError extends StrandError {
  declare readonly code: 'LEVEL_READONLY';

  constructor(operation: string) {
    super(
      'LEVEL_READONLY',
      'invalid',
      `Cannot ${operation}: this S3Level is a read-only follower. Write through the store's single writer (open it without readOnly: that fences the current writer, so do it only to take over).`,
      { details: { operation } },
    );
  }
}

/**
 * The writer gave up on the object store after its retries (or a write outcome stayed unknown).
 * The instance refuses further writes; reopen it, which replays what was stored. Not to be
 * confused with core's `StorageUnavailableError` (`STRAND_STORAGE_UNAVAILABLE`), which the event
 * log throws when any store's write fails.
 */
export class S3UnavailableError extends StrandError {
  declare readonly code: 'STRAND_S3_UNAVAILABLE';

  constructor(message: string, cause?: unknown) {
    super('STRAND_S3_UNAVAILABLE', 'unavailable', message, cause === undefined ? {} : { cause });
  }
}
