/**
 * `@strand/store-s3`: an LSM tree on object storage (AWS S3, MinIO, R2, Ceph RGW) behind the
 * `abstract-level` interface, so Strand's event log runs on a bucket. See the package README and
 * docs/design/0005-s3-engine.md.
 *
 * @module
 */
export { S3Level } from './s3-level.js';
export type { Durability, S3LevelOptions } from './s3-level.js';
export { FencedError, ManifestInvariantError, ReadOnlyError, S3UnavailableError } from './errors.js';
/** Stored data that fails a checksum or does not decode: core's `CorruptionError` (`STRAND_CORRUPTION`), re-exported. */
export { CorruptionError } from '@strand/core';
export type { S3ErrorKind } from './errors.js';
export type { EngineStats } from './engine.js';
export type { GcResult } from './gc.js';
export type { Manifest, TableMeta } from './manifest/format.js';
export { S3ObjectStore } from './object-store/s3.js';
export type { S3ObjectStoreOptions } from './object-store/s3.js';
export { RetryingObjectStore } from './object-store/retrying.js';
export type { RetryOptions } from './object-store/retrying.js';
export { CountingObjectStore } from './object-store/counting.js';
export type { RequestCounts } from './object-store/counting.js';
export { ObjectStoreError, PreconditionFailedError } from './object-store/types.js';
export type { ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from './object-store/types.js';
export { systemClock, seededRandom } from './clock.js';
export type { Clock, Random } from './clock.js';
export { s3Archive } from './archive.js';
export type { S3Archive } from './archive.js';
export { openS3Log, parseS3Url, s3LogDefaults } from './url.js';
export type { OpenS3LogOptions, S3Location, S3Log } from './url.js';
