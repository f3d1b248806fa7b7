/**
 * The object store abstraction the engine is written against: the few S3 operations it needs.
 *
 * @module
 */
import { type ErrorKind, StrandError } from '@strand/core';

/** One object as seen by a LIST. */
export interface ObjectInfo {
  /** Full key in the bucket. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Last-modified time in milliseconds since the epoch (the store's clock). */
  lastModified: number;
}

/** Conditions of a PUT. */
export interface PutOptions {
  /** `'*'`: create only; fails with {@link PreconditionFailedError} if the key exists. */
  ifNoneMatch?: '*';
  /** Replace only if the current ETag is this one (quotes optional). */
  ifMatch?: string;
}

/** Options of a LIST. */
export interface ListOptions {
  /** Only keys strictly after this one (full key). */
  startAfter?: string;
  /** Stop after this many keys. */
  limit?: number;
}

/** What a successful PUT returns. */
export interface PutResult {
  /** The new object's ETag, without quotes. */
  etag: string;
}

/**
 * A bucket. Implementations: `S3ObjectStore` (AWS SDK), `InMemoryObjectStore` (tests),
 * decorators `RetryingObjectStore`, `CountingObjectStore`, `FaultyObjectStore`.
 */
export interface ObjectStore {
  /** The whole object, or `undefined` if there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Bytes `[start, end)` of an object, or `undefined` if there is none. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array | undefined>;
  /** Stores an object (atomically: readers see all of it or nothing). */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Keys under `prefix` in byte order, all pages. */
  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]>;
  /**
   * The store's own clock as of its last response (ms since the epoch; an S3 server's `Date`
   * header), or undefined before any response. Garbage collection ages objects by it, never by
   * the local clock (docs/design/0005, "Garbage collection").
   */
  serverTime?(): number | undefined;
}

/** Base of the errors object stores throw; `retryable` tells the retry layer what to do. */
export class ObjectStoreError extends StrandError {
  /** HTTP status when there was one. */
  readonly status: number | undefined;
  /** Throttling, 5xx, timeouts, network errors: worth another try. */
  readonly retryable: boolean;
  /**
   * The request may have been applied even though it failed (a timeout or a 5xx after the body
   * was sent). Conditional creates re-read before deciding.
   */
  readonly outcomeUnknown: boolean;

  constructor(
    message: string,
    options: { code?: string; status?: number; retryable: boolean; outcomeUnknown?: boolean; cause?: unknown; kind?: ErrorKind },
  ) {
    super(options.code ?? 'STRAND_S3_OBJECT_STORE', options.kind ?? 'unavailable', message, {
      details: { ...(options.status === undefined ? {} : { status: options.status }), retryable: options.retryable },
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = options.status;
    this.retryable = options.retryable;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

/** A conditional PUT lost: the key exists (`ifNoneMatch`) or has another ETag (`ifMatch`). */
export class PreconditionFailedError extends ObjectStoreError {
  constructor(key: string) {
    super(`Precondition failed for ${key}`, { code: 'STRAND_S3_PRECONDITION_FAILED', status: 412, retryable: false, kind: 'conflict' });
  }
}

/** Strips the quotes S3 puts around ETags (RGW only honours unquoted `If-Match`). */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}
